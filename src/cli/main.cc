// gorae: DeepSeek-style models from tokenizer to serving, in one binary.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

#include "cli/commands.h"
#include "dist/job.h"

namespace {

// libgomp reads its spin policy once, as the library loads, before main. By default an idle
// thread spins ~300k iterations at every barrier; when the cores are busy with other work (other
// processes, ctest -j), the spinning thread takes the time slice of the one that has work, and
// small models ran 4x (training) to 1000x (batched decode) slower than with one thread. A short
// spin keeps most of the latency benefit on an idle machine. So unless the user chose a policy,
// run again once with GOMP_SPINCOUNT set.
void UseShortOpenMpSpin(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  ::setenv("GOMP_SPINCOUNT", "2000", 1);
  ::execv("/proc/self/exe", argv);  // returns only if it failed: go on with the default policy
}

}  // namespace

int main(int argc, char** argv) {
  UseShortOpenMpSpin(argv);
  // Under mpirun/srun this process is one rank of a job (src/dist/); alone, it is the only one.
  if (const gorae::Status s = gorae::dist::JoinJob(&argc, &argv); !s.ok()) {
    gorae::dist::PrintError(s.message());
    return gorae::dist::LeaveJob(1);
  }
  CLI::App app{"gorae: DeepSeek-V3 architecture and the R1 recipe, native C++"};
  app.require_subcommand(1);
  int exit_code = 0;
  // (subcommands are registered here, one line each)
  gorae::cli::AddDemoCommand(app, &exit_code);
  gorae::cli::AddInfoCommand(app, &exit_code);
  gorae::cli::AddLogitsCommand(app, &exit_code);
  gorae::cli::AddGenerateCommand(app, &exit_code);
  gorae::cli::AddBenchCommand(app, &exit_code);
  gorae::cli::AddTokenizerCommand(app, &exit_code);
  gorae::cli::AddServeCommand(app, &exit_code);
  gorae::cli::AddChatCommand(app, &exit_code);
  gorae::cli::AddPretrainCommand(app, &exit_code);
  gorae::cli::AddSftCommand(app, &exit_code);
  gorae::cli::AddConvertCommand(app, &exit_code);
  gorae::cli::AddGrpoCommand(app, &exit_code);
  gorae::cli::AddEvalCommand(app, &exit_code);
  gorae::cli::AddTasksCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return gorae::dist::LeaveJob(app.exit(e));
  } catch (const std::bad_alloc&) {
    gorae::dist::PrintError("out of memory");
    return gorae::dist::LeaveJob(1);
  } catch (const std::exception& e) {
    gorae::dist::PrintError(e.what());
    return gorae::dist::LeaveJob(1);
  }
  return gorae::dist::LeaveJob(exit_code);
}
