// gorae: DeepSeek-style models from tokenizer to serving, in one binary.
#include <cstdio>
#include <exception>
#include <new>

#include "cli/commands.h"

int main(int argc, char** argv) {
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
    return app.exit(e);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "gorae: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gorae: error: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
