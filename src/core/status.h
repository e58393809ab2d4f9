// Status and Result<T>: errors as values at I/O and API edges.
//
// A Status is ok() or carries a code and a message that says what was expected and what was
// found ("tensor 'model.norm.weight': expected shape [64], file has [32]"). Result<T> holds a
// value or a non-ok Status. Internal invariants use GORAE_CHECK (check.h) instead.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace gorae {

enum class StatusCode { kOk, kInvalidArgument, kNotFound, kCorruption, kIOError, kUnsupported, kInternal };

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Returns this status with "context: " put in front of its message (for adding the file
  // or field name as an error travels up).
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename... Args>
Status InvalidArgument(fmt::format_string<Args...> f, Args&&... args) {
  return {StatusCode::kInvalidArgument, fmt::format(f, std::forward<Args>(args)...)};
}
template <typename... Args>
Status NotFound(fmt::format_string<Args...> f, Args&&... args) {
  return {StatusCode::kNotFound, fmt::format(f, std::forward<Args>(args)...)};
}
template <typename... Args>
Status Corruption(fmt::format_string<Args...> f, Args&&... args) {
  return {StatusCode::kCorruption, fmt::format(f, std::forward<Args>(args)...)};
}
template <typename... Args>
Status IOError(fmt::format_string<Args...> f, Args&&... args) {
  return {StatusCode::kIOError, fmt::format(f, std::forward<Args>(args)...)};
}
template <typename... Args>
Status Unsupported(fmt::format_string<Args...> f, Args&&... args) {
  return {StatusCode::kUnsupported, fmt::format(f, std::forward<Args>(args)...)};
}

// Result<T>: a T or an error Status. Access the value only when ok().
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}                     // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}             // NOLINT: implicit by design
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // Reading the value of an error is a programming error: it aborts naming the error (instead
  // of dereferencing an empty optional, undefined behaviour).
  T& value() & { Checked(); return *value_; }
  const T& value() const& { Checked(); return *value_; }
  T&& value() && { Checked(); return std::move(*value_); }
  T* operator->() { Checked(); return &*value_; }
  const T* operator->() const { Checked(); return &*value_; }
  T& operator*() { Checked(); return *value_; }
  const T& operator*() const { Checked(); return *value_; }

 private:
  void Checked() const {
    if (!value_.has_value()) {
      std::fprintf(stderr, "gorae: internal error: the value of a failed Result was read (%s)\n",
                   status_.ToString().c_str());
      std::abort();
    }
  }
  std::optional<T> value_;
  Status status_;
};

}  // namespace gorae

// Returns the status from the enclosing function if it is not ok.
#define GORAE_RETURN_IF_ERROR(expr)                 \
  do {                                              \
    ::gorae::Status gorae_status_ = (expr);         \
    if (!gorae_status_.ok()) return gorae_status_;  \
  } while (0)

#define GORAE_CONCAT_INNER(a, b) a##b
#define GORAE_CONCAT(a, b) GORAE_CONCAT_INNER(a, b)
// GORAE_ASSIGN_OR_RETURN(auto x, MakeX()): unwraps a Result or returns its status.
#define GORAE_ASSIGN_OR_RETURN(lhs, expr) \
  GORAE_ASSIGN_OR_RETURN_IMPL(GORAE_CONCAT(gorae_result_, __LINE__), lhs, expr)
#define GORAE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
