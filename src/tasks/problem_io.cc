// Problem JSONL files: reading with line-numbered errors, atomic writing, field checks.
#include <cstdio>
#include <fstream>

#include "core/atomic_file.h"
#include "tasks/expr.h"
#include "tasks/rational.h"
#include "tasks/tasks.h"
#include "tasks/templates.h"

namespace gorae::tasks {
namespace {

constexpr size_t kMaxCountdownNumbers = 32;

Result<std::string> StringField(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return InvalidArgument("missing field \"{}\"", name);
  if (!it->is_string()) return InvalidArgument("field \"{}\" must be a string (found {})", name, it->type_name());
  return it->get<std::string>();
}

Result<int64_t> IntegerField(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return InvalidArgument("missing field \"{}\"", name);
  if (!it->is_number_integer()) return InvalidArgument("field \"{}\" must be an integer (found {})", name, it->type_name());
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return InvalidArgument("field \"{}\" is too large", name);
  }
  return it->get<int64_t>();
}

// A built-in numeric answer must be an integer; when the prompt follows the task's wording, it
// must also be the right one.
Status CheckNumericAnswer(const Problem& p) {
  std::optional<Rational> r = ParseNumber(p.answer);
  if (!r || !IsInteger(*r)) return InvalidArgument("task {}: answer \"{}\" is not an integer", p.task, p.answer);
  if (p.task == "arithmetic") {
    if (auto q = ParseArithmeticPrompt(p.prompt); q && q->Answer() != r->num) {
      return InvalidArgument("task arithmetic: answer {} is wrong for \"{}\" (expected {})", r->num, p.prompt, q->Answer());
    }
  } else if (auto q = ParseLinearPrompt(p.prompt)) {
    if (static_cast<__int128>(q->a) * r->num + q->b != q->c) {
      return InvalidArgument("task linear: answer {} does not solve \"{}\"", r->num, p.prompt);
    }
  }
  return Status::Ok();
}

}  // namespace

nlohmann::json ProblemToJson(const Problem& p) {
  nlohmann::json j = p.extra.is_object() ? p.extra : nlohmann::json::object();
  j["task"] = p.task;
  j["prompt"] = p.prompt;
  j["answer"] = p.answer;
  if (p.task == "countdown") {
    j["numbers"] = p.numbers;
    j["target"] = p.target;
  }
  return j;
}

Result<Problem> ProblemFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return InvalidArgument("expected a JSON object, found {}", j.type_name());
  Problem p;
  GORAE_ASSIGN_OR_RETURN(p.task, StringField(j, "task"));
  GORAE_ASSIGN_OR_RETURN(p.prompt, StringField(j, "prompt"));
  GORAE_ASSIGN_OR_RETURN(p.answer, StringField(j, "answer"));
  if (p.task.empty()) return InvalidArgument("field \"task\" is empty");
  p.extra = j;
  p.extra.erase("task");
  p.extra.erase("prompt");
  p.extra.erase("answer");
  if (p.task == "countdown") {
    auto it = j.find("numbers");
    if (it == j.end()) return InvalidArgument("task countdown: missing field \"numbers\"");
    if (!it->is_array() || it->empty() || it->size() > kMaxCountdownNumbers) {
      return InvalidArgument("task countdown: \"numbers\" must be an array of 1 to {} integers", kMaxCountdownNumbers);
    }
    for (const auto& n : *it) {
      if (!n.is_number_integer()) return InvalidArgument("task countdown: \"numbers\" must hold integers (found {})", n.type_name());
      if (n.is_number_unsigned() && n.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return InvalidArgument("task countdown: a number is too large");
      }
      p.numbers.push_back(n.get<int64_t>());
    }
    GORAE_ASSIGN_OR_RETURN(p.target, IntegerField(j, "target"));
    p.extra.erase("numbers");
    p.extra.erase("target");
    if (!CountdownSolves(p.answer, p.numbers, p.target)) {
      Result<Rational> v = EvaluateCountdown(p.answer, p.numbers);
      std::string why = v.ok() ? fmt::format("it evaluates to {}", RatToString(*v)) : v.status().message();
      return InvalidArgument("task countdown: answer \"{}\" does not make {} ({})", p.answer, p.target, why);
    }
  } else if (p.task == "arithmetic" || p.task == "linear") {
    GORAE_RETURN_IF_ERROR(CheckNumericAnswer(p));
  }
  return p;
}

Result<std::vector<Problem>> ReadProblems(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IOError("cannot open problem file '{}'", path);
  std::vector<Problem> out;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      return Corruption("'{}' line {}: malformed JSON ({})", path, number, e.what());
    }
    Result<Problem> p = ProblemFromJson(j);
    if (!p.ok()) return p.status().WithContext(fmt::format("'{}' line {}", path, number));
    out.push_back(std::move(p).value());
  }
  if (in.bad()) return IOError("error reading '{}'", path);
  return out;
}

Status WriteProblems(const std::string& path, const std::vector<Problem>& problems) {
  std::string text;
  for (const Problem& p : problems) {
    text += ProblemToJson(p).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
  }
  GORAE_RETURN_IF_ERROR(WriteFileAtomic(path, text));
  return Status::Ok();
}

}  // namespace gorae::tasks
