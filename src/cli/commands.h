// Subcommands of the gorae binary: one file per subcommand, each adding itself to the app.
// A command's callback stores its exit code in *exit_code (0 ok, 1 bad input / failure).
#pragma once

#include <CLI/CLI.hpp>

namespace gorae::cli {

void AddInfoCommand(CLI::App& app, int* exit_code);
void AddLogitsCommand(CLI::App& app, int* exit_code);
void AddGenerateCommand(CLI::App& app, int* exit_code);
void AddBenchCommand(CLI::App& app, int* exit_code);
void AddDemoCommand(CLI::App& app, int* exit_code);
void AddTokenizerCommand(CLI::App& app, int* exit_code);
void AddServeCommand(CLI::App& app, int* exit_code);
void AddChatCommand(CLI::App& app, int* exit_code);
void AddPretrainCommand(CLI::App& app, int* exit_code);
void AddSftCommand(CLI::App& app, int* exit_code);
void AddConvertCommand(CLI::App& app, int* exit_code);
void AddGrpoCommand(CLI::App& app, int* exit_code);
void AddEvalCommand(CLI::App& app, int* exit_code);
void AddTasksCommand(CLI::App& app, int* exit_code);

// Prints "error: <message>" to stderr and returns the exit code for failed commands.
int ReportError(const std::string& message);

}  // namespace gorae::cli
