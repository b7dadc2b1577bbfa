#include "agents/fitted_call.hpp"

#include <algorithm>

#include "router/token_estimate.hpp"

namespace switchyard {

uint32_t smallest_window(const config& cfg, const model_request& req) {
  uint32_t smallest = 0;
  auto consider = [&](const model_config& m) {
    if (m.context_window > 0 && (smallest == 0 || m.context_window < smallest))
      smallest = m.context_window;
  };
  if (!req.model.empty()) {
    if (const auto* m = cfg.find_model(req.model)) consider(*m);
    return smallest;
  }
  for (const auto& m : cfg.models)
    if (req.tier.empty() || m.tier == req.tier) consider(m);
  return smallest;
}

model_request summary_request(const config& cfg, const model_request& main,
                              const std::vector<chat_message>& turns, uint32_t max_tokens) {
  model_request s;
  s.ctx = main.ctx;
  s.call_id = main.call_id + "s";
  s.tier = "local";
  s.route = main.route;
  s.data_class = main.data_class;
  s.max_tokens = std::max<uint32_t>(16, max_tokens);
  s.messages.emplace_back("system",
                          "Summarise this customer-support conversation for a colleague in a "
                          "few sentences. Keep order numbers, dates, amounts and placeholders "
                          "such as [EMAIL_1] exactly as written; add nothing.");
  std::string joined;
  for (const auto& t : turns) {
    joined += t.role == "assistant" ? "Agent: " : "Customer: ";
    joined += t.content;
    joined += '\n';
  }
  s.messages.emplace_back("user", std::move(joined));
  auto window = smallest_window(cfg, s);
  auto fixed = estimate_prompt_tokens({s.messages.front()}) + s.max_tokens + 64;  // + framing
  if (window > fixed)
    s.messages.back().content = truncate_to_tokens(s.messages.back().content, window - fixed);
  return s;
}

fit_plan plan_fit(const config& cfg, const model_request& req, const std::string* summary) {
  fit_plan plan;
  context_fit_options options;
  options.context_window = smallest_window(cfg, req);
  options.reserved_output_tokens = req.max_tokens;
  options.summary_max_tokens = 256;
  if (options.context_window == 0) {
    // Nothing is known about the window: no fitting, the router reports what fails.
    plan.fit.messages = req.messages;
    return plan;
  }
  if (summary) {
    plan.fit =
        fit_context(req.messages, options,
                    [summary](const std::vector<chat_message>&, uint32_t) { return *summary; });
    return plan;
  }
  plan.fit = fit_context(req.messages, options,
                         [&plan](const std::vector<chat_message>& turns, uint32_t max_tokens) {
                           plan.to_summarise = turns;
                           plan.summary_tokens = max_tokens;
                           return std::string{};
                         });
  return plan;
}

}  // namespace switchyard
