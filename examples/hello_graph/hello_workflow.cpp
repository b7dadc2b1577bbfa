#include "examples/hello_graph/hello_workflow.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "agents/function_agent.hpp"
#include "agents/model_agent.hpp"

namespace switchyard::examples {

bool looks_like_question(const std::string& text) {
  if (text.find('?') != std::string::npos) return true;
  auto begin =
      std::find_if(text.begin(), text.end(), [](unsigned char c) { return !std::isspace(c); });
  auto end = std::find_if(begin, text.end(), [](unsigned char c) { return !std::isalpha(c); });
  std::string first(begin, end);
  std::transform(first.begin(), first.end(), first.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::array<const char*, 16> words{"how",   "what", "where", "why",   "when", "who",
                                                 "which", "can",  "could", "do",    "does", "is",
                                                 "are",   "will", "would", "should"};
  return std::any_of(words.begin(), words.end(), [&](const char* w) { return first == w; });
}

graph_builder hello_graph() {
  graph_builder g{"hello"};
  g.agent("intake", function_agent([](const step_request& req) {
            step_reply reply;
            reply.output = req.input;
            reply.label = looks_like_question(req.input) ? "question" : "statement";
            return reply;
          }))
      .agent("answerer",
             model_agent({"You answer customer questions in two sentences.", "mid", {}, 200, {}}))
      .agent("acknowledger",
             model_agent({"You acknowledge customer messages politely.", "local", {}, 120, {}}))
      .branch_on_label("intake", "question", "answerer")
      .edge("intake", "acknowledger");
  return g;
}

}  // namespace switchyard::examples
