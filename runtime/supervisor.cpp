#include "runtime/supervisor.hpp"

namespace switchyard {

step_error_verdict supervisor::judge(const model_error& error) {
  if (error.kind == reason_budget_exhausted)
    return {run_status::escalated, reason_budget_exhausted};
  if (error.kind == reason_human_requested) return {run_status::escalated, reason_human_requested};
  return {run_status::failed, error.kind.empty() ? "unknown_error" : error.kind};
}

}  // namespace switchyard
