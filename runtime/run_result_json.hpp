#pragma once
// JSON form of run results, as printed by `switchyard run --json` and served later by
// the gateway. Field names are part of the public interface: add, never rename.

#include <nlohmann/json.hpp>

#include "runtime/messages.hpp"

namespace switchyard {

nlohmann::json to_json(const step_record& x);
nlohmann::json to_json(const handoff_record& x);
/// At least: run_id, thread_id, workflow, status, reason, output, hops, cost_usd,
/// steps[]; handoff only when the run was handed to a human.
nlohmann::json to_json(const run_result& x);

}  // namespace switchyard
