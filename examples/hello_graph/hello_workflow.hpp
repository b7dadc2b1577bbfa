#pragma once
// The hello graph: three agents and one branch. `intake` labels a message as a
// question or a statement without a model call; questions go to `answerer` (mid
// tier), everything else to `acknowledger` (local tier).

#include "workflows/graph.hpp"

namespace switchyard::examples {

/// True for text that reads as a question: it contains '?' or starts with a
/// question word (how, what, where, why, when, who, which, can, could, do, does,
/// is, are, will, would, should).
bool looks_like_question(const std::string& text);

graph_builder hello_graph();

}  // namespace switchyard::examples
