#include "runtime/messages.hpp"

namespace switchyard {

std::string to_string(step_kind x) {
  switch (x) {
    case step_kind::node:
      return "node";
    case step_kind::call:
      return "call";
    case step_kind::escalation:
      return "escalation";
  }
  return "unknown";
}

std::string to_string(run_status x) {
  switch (x) {
    case run_status::running:
      return "running";
    case run_status::blocked:
      return "blocked";
    case run_status::completed:
      return "completed";
    case run_status::escalated:
      return "escalated";
    case run_status::failed:
      return "failed";
  }
  return "unknown";
}

std::string to_string(stream_delta_kind x) {
  switch (x) {
    case stream_delta_kind::text:
      return "text";
    case stream_delta_kind::tool_call:
      return "tool_call";
    case stream_delta_kind::usage:
      return "usage";
    case stream_delta_kind::finish:
      return "finish";
  }
  return "unknown";
}

}  // namespace switchyard
