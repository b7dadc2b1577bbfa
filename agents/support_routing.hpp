#pragma once
// Which support agent serves a route, and the brand voice the closer writes in. Plain
// decisions, no CAF: the router agent and the closer call these.

#include <string>
#include <string_view>

namespace switchyard {

/// The workers of the support graph, by node name.
inline constexpr const char* support_scripted = "scripted";
inline constexpr const char* support_researcher = "researcher";
inline constexpr const char* support_reasoner = "reasoner";
/// Not a node: the run is handed to a person.
inline constexpr const char* support_human = "human";

/// The worker for `route` given the ticket `text`:
/// - password_recovery, track_order: scripted (a fixed flow, no model call);
/// - human_agent: a person (the run ends in a handoff record);
/// - complaint, payment_problem: the reasoner (frontier tier);
/// - any other route: the reasoner when the ticket has several parts (three or more
///   questions or list items, router/complexity.hpp), else the researcher (mid tier).
/// Only the route and the count of parts decide: nothing a ticket says about tiers,
/// models or agents can move it.
std::string support_worker(std::string_view route, std::string_view text);

/// The closer's system prompt: the brand voice.
std::string brand_voice_prompt();

/// The customer reply around `body`: greeting (by name when `name_placeholder` is
/// not empty, e.g. "[NAME_1]", which restore() may turn into the customer's name),
/// the body, the sources when there are any, and the sign-off.
std::string brand_reply(std::string_view body, std::string_view name_placeholder,
                        std::string_view sources);

}  // namespace switchyard
