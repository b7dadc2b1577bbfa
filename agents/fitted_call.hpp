#pragma once
// A model call with its history fitted to the target's context window first (the
// context orchestrator, agents/context_fitter.hpp): system prompt and latest turns
// kept, metadata stripped, older turns summarised by a local-tier model call. Used by
// every support agent that calls a model.

#include <string>
#include <utility>
#include <vector>

#include "agents/agent.hpp"
#include "agents/call_log.hpp"
#include "agents/context_fitter.hpp"
#include "caf/event_based_actor.hpp"

namespace switchyard {

/// The smallest context window among the models that may serve `req` (its pinned
/// model, else every model of its tier, else every model): the fit must hold whichever
/// one the router picks. 0 when none is known.
uint32_t smallest_window(const config& cfg, const model_request& req);

/// The summary call for `turns`: local tier, same run and data class as `main`. The
/// turns are cut to fit the local tier's smallest window (from `cfg`), oldest text
/// kept, since the summary call is not fitted itself.
model_request summary_request(const config& cfg, const model_request& main,
                              const std::vector<chat_message>& turns, uint32_t max_tokens);

/// Fits `req.messages` (summariser: a text already written, or none) and reports what
/// the fit would leave out. A pure function of its inputs.
struct fit_plan {
  context_fit_result fit;
  std::vector<chat_message> to_summarise;  // non-empty: ask the local tier, then refit
  uint32_t summary_tokens = 0;
};
fit_plan plan_fit(const config& cfg, const model_request& req, const std::string* summary);

/// Calls `done(model_response&, std::vector<model_usage>& extra_calls)` once: the main
/// call's response (or a bad_request error when the history cannot fit at all) and the
/// usage of the summary call made to fit it, if any. Every answered call is also
/// recorded in `log` under the run id.
template <class Done>
void call_fitted(caf::event_based_actor* self, const agent_env& env, call_log* log,
                 model_request req, Done done) {
  auto finish_with = [self, env, log, done](model_request main, std::vector<model_usage> extra,
                                            const std::string* summary) mutable {
    auto plan = plan_fit(*env.cfg, main, summary);
    if (!plan.fit.ok()) {
      model_response resp;
      resp.error.kind = "bad_request";
      resp.error.message = "context: " + plan.fit.error;
      done(resp, extra);
      return;
    }
    main.messages = std::move(plan.fit.messages);
    auto run_id = main.ctx.run_id;
    call_model(self, env.models, std::move(main),
               [log, run_id, extra = std::move(extra), done](model_response& resp) mutable {
                 if (log) log->record(run_id, resp.usage);
                 done(resp, extra);
               });
  };
  auto plan = plan_fit(*env.cfg, req, nullptr);
  if (!plan.fit.ok() || plan.to_summarise.empty()) {
    finish_with(std::move(req), {}, nullptr);
    return;
  }
  auto summary_call = summary_request(*env.cfg, req, plan.to_summarise, plan.summary_tokens);
  call_model(self, env.models, std::move(summary_call),
             [log, req = std::move(req), finish_with](model_response& resp) mutable {
               std::vector<model_usage> extra;
               if (!resp.usage.model_id.empty()) {
                 if (log) log->record(req.ctx.run_id, resp.usage);
                 extra.push_back(resp.usage);
               }
               // Without a summary (the local tier failed) the fit drops the old turns
               // instead: the answer goes on, and the step's error-free.
               std::string text = resp.ok() ? resp.text : std::string{};
               finish_with(std::move(req), std::move(extra), resp.ok() ? &text : nullptr);
             });
}

}  // namespace switchyard
