#include "router/intent_classifier.hpp"

#include <linear.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>

namespace switchyard {

namespace {

constexpr char file_magic[8] = {'S', 'Y', 'I', 'N', 'T', 'N', 'T', '2'};
constexpr int fold_count = 5;
constexpr size_t small_training_set = 2000;
constexpr size_t max_routes = 65535;  // routes are stored as uint16_t

void quiet(const char*) {}

int liblinear_solver(linear_solver s) {
  switch (s) {
    case linear_solver::logistic_regression:
      return L2R_LR_DUAL;
    case linear_solver::svm:
      return L2R_L2LOSS_SVC_DUAL;
    case linear_solver::crammer_singer:
      return MCSVM_CS;
  }
  return L2R_L2LOSS_SVC_DUAL;
}

struct linear_fit {
  std::vector<float> w;       // dimension x routes
  std::vector<float> bias;    // per route
  std::vector<bool> present;  // routes that had examples in this fit
};

// One liblinear fit on encoded rows. Rows are 1-based feature_node arrays with a bias
// node and the -1 terminator, as liblinear expects.
linear_fit fit_liblinear(const std::vector<std::vector<feature_node>>& rows,
                         const std::vector<int>& labels, const std::vector<size_t>& subset,
                         uint32_t dimension, size_t route_count,
                         const linear_classifier_options& options) {
  std::vector<feature_node*> x;
  std::vector<double> y;
  x.reserve(subset.size());
  y.reserve(subset.size());
  for (size_t i : subset) {
    x.push_back(const_cast<feature_node*>(rows[i].data()));  // liblinear never writes x
    y.push_back(labels[i]);
  }
  problem prob{};
  prob.l = static_cast<int>(subset.size());
  prob.n = static_cast<int>(dimension) + 1;  // + the bias feature
  prob.y = y.data();
  prob.x = x.data();
  prob.bias = 1.0;

  parameter param{};
  param.solver_type = liblinear_solver(options.solver);
  param.C = options.c;
  param.eps = 0.1;  // liblinear's default for its dual solvers
  param.p = 0.1;

  set_print_string_function(&quiet);
  model* m = train(&prob, &param);
  const int nr_class = m->nr_class;
  const int nr_w = (nr_class == 2 && param.solver_type != MCSVM_CS) ? 1 : nr_class;

  linear_fit fit;
  fit.w.assign(static_cast<size_t>(dimension) * route_count, 0.0f);
  fit.bias.assign(route_count, 0.0f);
  fit.present.assign(route_count, false);
  for (int c = 0; c < nr_class; ++c) {
    const size_t route = static_cast<size_t>(m->label[c]);
    fit.present[route] = true;
    // With two classes liblinear keeps one vector, positive for label[0].
    const int column = nr_w == 1 ? 0 : c;
    const float sign = (nr_w == 1 && c == 1) ? -1.0f : 1.0f;
    for (uint32_t f = 0; f < dimension; ++f) {
      fit.w[static_cast<size_t>(f) * route_count + route] =
          sign * static_cast<float>(m->w[static_cast<size_t>(f) * nr_w + column]);
    }
    fit.bias[route] =
        sign * static_cast<float>(m->w[static_cast<size_t>(dimension) * nr_w + column]);
  }
  free_and_destroy_model(&m);
  return fit;
}

void decision_values(const sparse_vector& v, const std::vector<float>& w,
                     const std::vector<float>& bias, std::vector<double>& out) {
  const size_t k = bias.size();
  std::vector<float> acc(bias.begin(), bias.end());
  for (const auto& [index, value] : v.entries) {
    const float* row = w.data() + static_cast<size_t>(index) * k;
    for (size_t r = 0; r < k; ++r) acc[r] += row[r] * value;
  }
  out.assign(acc.begin(), acc.end());
}

#if !defined(__SSE2__)
// Eight int8 weights at once where SSE2 is not there: GCC/clang vector extensions.
typedef int8_t int8x8 __attribute__((vector_size(8)));
typedef float floatx8 __attribute__((vector_size(32)));
#endif

}  // namespace

// Decision values from the 8-bit weights (weights::quantise).
void linear_intent_classifier::decision_values_q(const sparse_vector& v,
                                                 std::vector<double>& out) const {
  const auto& m = *model_;
  const auto* rows = m.rows.data();
  for (const auto& e : v.entries) __builtin_prefetch(rows + e.first);
  for (const auto& e : v.entries) {
    const uint32_t first = rows[e.first].start;
    __builtin_prefetch(m.entry_q.data() + first);
    __builtin_prefetch(m.entry_route.data() + first);
  }
  thread_local std::vector<float> acc;  // reused: no allocation per call
  acc.assign(m.bias.begin(), m.bias.end());
  const size_t k = m.bias.size();
  float* a = acc.data();
  for (const auto& [index, value] : v.entries) {
    const uint32_t start = rows[index].start, end = rows[index + 1].start;
    const float scaled = value * rows[index].scale;
    const int8_t* q = m.entry_q.data() + start;
    if (end - start == k) {  // a whole row: entry i is route i - start
      size_t r = 0;
#if defined(__SSE2__)
      // SSE2 (every x86-64): sign-extend 8 bytes to 2 x 4 int32, convert, multiply-add.
      const __m128 s = _mm_set1_ps(scaled);
      for (; r + 8 <= k; r += 8) {
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + r));
        const __m128i w16 = _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8);
        const __m128i lo = _mm_srai_epi32(_mm_unpacklo_epi16(w16, w16), 16);
        const __m128i hi = _mm_srai_epi32(_mm_unpackhi_epi16(w16, w16), 16);
        _mm_storeu_ps(a + r, _mm_add_ps(_mm_loadu_ps(a + r), _mm_mul_ps(_mm_cvtepi32_ps(lo), s)));
        _mm_storeu_ps(a + r + 4,
                      _mm_add_ps(_mm_loadu_ps(a + r + 4), _mm_mul_ps(_mm_cvtepi32_ps(hi), s)));
      }
#else
      for (; r + 8 <= k; r += 8) {
        int8x8 w8;
        std::memcpy(&w8, q + r, sizeof w8);
        floatx8 sum;
        std::memcpy(&sum, a + r, sizeof sum);
        sum += __builtin_convertvector(w8, floatx8) * scaled;
        std::memcpy(a + r, &sum, sizeof sum);
      }
#endif
      for (; r < k; ++r) a[r] += static_cast<float>(q[r]) * scaled;
    } else {
      const uint16_t* route = m.entry_route.data() + start;
      for (uint32_t i = 0; i < end - start; ++i) a[route[i]] += static_cast<float>(q[i]) * scaled;
    }
  }
  out.assign(acc.begin(), acc.end());
}

namespace {

void softmax(double scale, std::vector<double>& values) {
  double top = -std::numeric_limits<double>::infinity();
  for (double v : values) top = std::max(top, v);
  double sum = 0.0;
  for (double& v : values) {
    v = std::isfinite(v) ? std::exp(scale * (v - top)) : 0.0;
    sum += v;
  }
  for (double& v : values) v /= sum;
}

// Mean negative log-likelihood of the true routes under softmax(scale * d).
double mean_nll(double scale, const std::vector<std::vector<double>>& decisions,
                const std::vector<int>& truth) {
  double total = 0.0;
  std::vector<double> p;
  for (size_t i = 0; i < decisions.size(); ++i) {
    p = decisions[i];
    softmax(scale, p);
    total -= std::log(std::max(p[static_cast<size_t>(truth[i])], 1e-12));
  }
  return total / static_cast<double>(decisions.size());
}

// Temperature scaling (Guo et al., 2017): the one scale that makes held-out
// probabilities honest. A log-spaced scan then golden-section refinement.
double fit_scale(const std::vector<std::vector<double>>& decisions, const std::vector<int>& truth) {
  if (decisions.empty()) return 1.0;
  double best = 1.0, best_nll = std::numeric_limits<double>::infinity();
  for (double e = -2.0; e <= 3.0; e += 0.25) {
    const double s = std::pow(10.0, e);
    const double nll = mean_nll(s, decisions, truth);
    if (nll < best_nll) best_nll = nll, best = s;
  }
  double lo = std::log10(best) - 0.25, hi = std::log10(best) + 0.25;
  const double g = (std::sqrt(5.0) - 1.0) / 2.0;
  for (int i = 0; i < 30; ++i) {
    const double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    if (mean_nll(std::pow(10.0, a), decisions, truth) <
        mean_nll(std::pow(10.0, b), decisions, truth))
      hi = b;
    else
      lo = a;
  }
  return std::pow(10.0, (lo + hi) / 2.0);
}

template <class T>
void write_pod(std::ostream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}
template <class T>
bool read_pod(std::istream& in, T& value) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&value), sizeof(T)));
}
template <class T>
void write_array(std::ostream& out, const std::vector<T>& values) {
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(T)));
}
template <class T>
bool read_array(std::istream& in, std::vector<T>& values) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(values.data()),
                                   static_cast<std::streamsize>(values.size() * sizeof(T))));
}
void write_string(std::ostream& out, const std::string& s) {
  write_pod(out, static_cast<uint32_t>(s.size()));
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}
bool read_string(std::istream& in, std::string& s) {
  uint32_t size = 0;
  if (!read_pod(in, size) || size > (1u << 20)) return false;
  s.resize(size);
  return static_cast<bool>(in.read(s.data(), size));
}

}  // namespace

bool parse_linear_solver(std::string_view name, linear_solver& out) {
  if (name == "lr")
    out = linear_solver::logistic_regression;
  else if (name == "svm")
    out = linear_solver::svm;
  else if (name == "cs")
    out = linear_solver::crammer_singer;
  else
    return false;
  return true;
}

const char* to_string(linear_solver solver) {
  switch (solver) {
    case linear_solver::logistic_regression:
      return "lr";
    case linear_solver::svm:
      return "svm";
    case linear_solver::crammer_singer:
      return "cs";
  }
  return "?";
}

std::string linear_classifier_options::problem() const {
  std::ostringstream why;
  if (!(c > 0.0) || !std::isfinite(c)) {
    why << "C must be a finite number > 0, got " << c;
  } else if (!(threshold >= 0.0 && threshold <= 1.0)) {
    why << "threshold must be in [0, 1], got " << threshold;
  } else if (!(min_weight >= 0.0) || !std::isfinite(min_weight)) {
    why << "min weight must be a finite number >= 0, got " << min_weight;
  } else if (top_k < 1) {
    why << "top_k must be >= 1, got " << top_k;
  } else if (calibration_folds < 0 || calibration_folds > fold_count) {
    why << "calibration folds must be in [0, " << fold_count << "], got " << calibration_folds;
  } else if (auto f = features.problem(); !f.empty()) {
    why << f;
  }
  return why.str();
}

classifier_result linear_intent_classifier::train(const std::vector<labeled_utterance>& examples,
                                                  const linear_classifier_options& options,
                                                  std::shared_ptr<const text_encoder> encoder) {
  if (auto why = options.problem(); !why.empty()) return {nullptr, "classifier options: " + why};
  std::map<std::string, int> route_index;
  for (size_t i = 0; i < examples.size(); ++i) {
    if (examples[i].text.empty())
      return {nullptr, "example " + std::to_string(i) + " has empty text"};
    if (examples[i].route.empty())
      return {nullptr, "example " + std::to_string(i) + " has no route"};
    route_index.emplace(examples[i].route, 0);
  }
  if (route_index.size() < 2) {
    return {nullptr,
            "need examples of at least two routes, got " + std::to_string(route_index.size())};
  }
  if (route_index.size() > max_routes) {
    return {nullptr, "at most " + std::to_string(max_routes) + " routes are supported, got " +
                         std::to_string(route_index.size())};
  }
  auto model = std::make_shared<weights>();
  for (auto& [name, index] : route_index) {
    index = static_cast<int>(model->routes.size());
    model->routes.push_back(name);
  }
  if (!encoder) {
    std::vector<std::string> texts;
    texts.reserve(examples.size());
    for (const auto& e : examples) texts.push_back(e.text);
    encoder = tfidf_encoder::fit(texts, options.features);
  }
  model->encoder = encoder;
  model->dimension = encoder->dimension();
  const size_t k = model->routes.size();

  std::vector<sparse_vector> encoded;
  {
    std::vector<std::string> texts;
    texts.reserve(examples.size());
    for (const auto& e : examples) texts.push_back(e.text);
    std::string error;
    if (!encoder->encode_all(texts, encoded, error))
      return {nullptr, "cannot encode the examples: " + error};
    if (encoded.size() != examples.size())
      return {nullptr, "the encoder returned " + std::to_string(encoded.size()) + " vectors for " +
                           std::to_string(examples.size()) + " examples"};
  }
  std::vector<std::vector<feature_node>> rows;
  std::vector<int> labels;
  rows.reserve(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    const auto& e = examples[i];
    std::vector<feature_node> row;
    row.reserve(encoded[i].entries.size() + 2);
    for (const auto& [index, value] : encoded[i].entries) {
      row.push_back({static_cast<int>(index) + 1, value});
    }
    row.push_back({static_cast<int>(model->dimension) + 1, 1.0});
    row.push_back({-1, 0.0});
    rows.push_back(std::move(row));
    labels.push_back(route_index[e.route]);
  }

  // Stratified folds: the i-th example of each route goes to fold i % 5.
  std::vector<int> fold(examples.size());
  {
    std::vector<int> seen(k, 0);
    for (size_t i = 0; i < examples.size(); ++i) fold[i] = seen[labels[i]]++ % fold_count;
  }
  int folds = options.calibration_folds;
  if (folds == 0) folds = examples.size() < small_training_set ? fold_count : 1;
  std::vector<std::vector<double>> held_out;
  std::vector<int> held_out_truth;
  for (int f = 0; f < folds; ++f) {
    std::vector<size_t> train_part, test_part;
    for (size_t i = 0; i < examples.size(); ++i)
      (fold[i] == f ? test_part : train_part).push_back(i);
    if (test_part.empty() || train_part.empty()) continue;
    std::vector<bool> in_train(k, false);
    size_t present = 0;
    for (size_t i : train_part) present += !in_train[labels[i]], in_train[labels[i]] = true;
    if (present < 2) continue;
    auto fit = fit_liblinear(rows, labels, train_part, model->dimension, k, options);
    for (size_t i : test_part) {
      if (!fit.present[labels[i]]) continue;  // a route this fold never saw says nothing
      std::vector<double> d;
      decision_values(encoded[i], fit.w, fit.bias, d);
      for (size_t r = 0; r < k; ++r) {
        if (!fit.present[r]) d[r] = -std::numeric_limits<double>::infinity();
      }
      held_out.push_back(std::move(d));
      held_out_truth.push_back(labels[i]);
    }
  }
  model->scale = fit_scale(held_out, held_out_truth);

  std::vector<size_t> all(examples.size());
  std::iota(all.begin(), all.end(), size_t{0});
  auto fit = fit_liblinear(rows, labels, all, model->dimension, k, options);
  model->row_start.reserve(model->dimension + 1);
  model->row_start.push_back(0);
  for (uint32_t f = 0; f < model->dimension; ++f) {
    const float* row = fit.w.data() + static_cast<size_t>(f) * k;
    auto kept = [&](float w) { return w != 0.0f && std::fabs(w) >= options.min_weight; };
    const auto nonzero = static_cast<size_t>(std::count_if(row, row + k, kept));
    // Rows of frequent n-grams are mostly nonzero: store them whole (zeros included) so
    // classify() runs a dense, vectorisable loop over them; see sparse_decision_values.
    const bool whole = nonzero * 2 >= k;
    for (size_t r = 0; r < k; ++r) {
      if (whole || kept(row[r])) {
        model->entry_route.push_back(static_cast<uint16_t>(r));
        model->entry_weight.push_back(kept(row[r]) ? row[r] : 0.0f);
      }
    }
    model->row_start.push_back(static_cast<uint32_t>(model->entry_route.size()));
  }
  model->bias = std::move(fit.bias);
  model->quantise();
  return {std::shared_ptr<const linear_intent_classifier>(
              new linear_intent_classifier(std::move(model), options.threshold, options.top_k)),
          ""};
}

std::vector<double> linear_intent_classifier::probabilities(std::string_view text) const {
  return probabilities_of(model_->encoder->encode(text));
}

std::vector<double> linear_intent_classifier::probabilities_of(const sparse_vector& v) const {
  std::vector<double> p;
  decision_values_q(v, p);
  softmax(model_->scale, p);
  return p;
}

classification linear_intent_classifier::classify(std::string_view text) const {
  return classify_encoded(model_->encoder->encode(text));
}

classification linear_intent_classifier::classify_encoded(const sparse_vector& features) const {
  const auto p = probabilities_of(features);
  const size_t k = p.size();
  const size_t shown = std::min(k, static_cast<size_t>(std::max(top_k_, 2)));
  std::vector<uint32_t> order(k);
  std::iota(order.begin(), order.end(), 0u);
  // Ties go to the route that sorts first, so the answer never depends on the platform.
  std::partial_sort(order.begin(), order.begin() + shown, order.end(),
                    [&](uint32_t a, uint32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  classification out;
  out.best_route = model_->routes[order[0]];
  out.confidence = p[order[0]];
  if (k > 1) {
    out.runner_up = model_->routes[order[1]];
    out.runner_up_confidence = p[order[1]];
  }
  if (out.confidence >= threshold_) out.route = out.best_route;
  const size_t top = std::min(k, static_cast<size_t>(top_k_));
  out.top.reserve(top);
  for (size_t i = 0; i < top; ++i) out.top.push_back({model_->routes[order[i]], p[order[i]]});
  return out;
}

void linear_intent_classifier::weights::quantise() {
  entry_q.resize(entry_weight.size());
  rows.assign(static_cast<size_t>(dimension) + 1, row_ref{});
  for (uint32_t f = 0; f <= dimension; ++f) rows[f].start = row_start[f];
  for (uint32_t f = 0; f < dimension; ++f) {
    const uint32_t start = row_start[f], end = row_start[f + 1];
    float top = 0.0f;
    for (uint32_t i = start; i < end; ++i) top = std::max(top, std::fabs(entry_weight[i]));
    if (top == 0.0f) {
      std::fill(entry_q.begin() + start, entry_q.begin() + end, int8_t{0});
      continue;
    }
    rows[f].scale = top / 127.0f;
    const float inverse = 127.0f / top;
    for (uint32_t i = start; i < end; ++i)
      entry_q[i] = static_cast<int8_t>(std::nearbyint(entry_weight[i] * inverse));
  }
}

std::shared_ptr<const linear_intent_classifier> linear_intent_classifier::with_threshold(
    double threshold) const {
  return std::shared_ptr<const linear_intent_classifier>(
      new linear_intent_classifier(model_, threshold, top_k_));
}

std::string linear_intent_classifier::save(const std::string& path) const {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  if (!out) return path + ": cannot open for writing";
  out.write(file_magic, sizeof file_magic);
  write_string(out, model_->encoder->identity());
  const bool builtin = dynamic_cast<const tfidf_encoder*>(model_->encoder.get()) != nullptr;
  write_pod(out, static_cast<uint8_t>(builtin ? 1 : 0));
  if (builtin) model_->encoder->save(out);
  write_pod(out, static_cast<uint32_t>(model_->routes.size()));
  for (const auto& r : model_->routes) write_string(out, r);
  write_pod(out, model_->dimension);
  write_pod(out, model_->scale);
  write_array(out, model_->bias);
  write_array(out, model_->row_start);
  write_array(out, model_->entry_route);
  write_array(out, model_->entry_weight);
  out.flush();
  if (!out) return path + ": write failed";
  return "";
}

classifier_result linear_intent_classifier::load(const std::string& path,
                                                 const linear_classifier_options& options,
                                                 std::shared_ptr<const text_encoder> encoder) {
  if (auto why = options.problem(); !why.empty()) return {nullptr, "classifier options: " + why};
  std::ifstream in{path, std::ios::binary};
  if (!in) return {nullptr, path + ": cannot open for reading"};
  auto fail = [&](const std::string& why) { return classifier_result{nullptr, path + ": " + why}; };
  char magic[sizeof file_magic];
  if (!in.read(magic, sizeof magic) || std::memcmp(magic, file_magic, sizeof magic) != 0) {
    return fail("not a switchyard intent classifier model (bad magic)");
  }
  std::string identity;
  uint8_t builtin = 0;
  if (!read_string(in, identity) || !read_pod(in, builtin)) return fail("header is truncated");
  auto model = std::make_shared<weights>();
  if (builtin) {
    std::string error;
    auto tfidf = tfidf_encoder::load(in, error);
    if (!tfidf) return fail(error);
    model->encoder = tfidf;
  } else if (!encoder) {
    return fail("model was trained behind the external encoder '" + identity +
                "'; pass that encoder to load it");
  } else {
    model->encoder = encoder;
  }
  if (model->encoder->identity() != identity) {
    return fail("encoder mismatch: model expects '" + identity + "', got '" +
                model->encoder->identity() + "'");
  }
  uint32_t route_count = 0;
  if (!read_pod(in, route_count) || route_count < 2 || route_count > max_routes) {
    return fail("route count is missing or out of range");
  }
  model->routes.resize(route_count);
  for (auto& r : model->routes) {
    if (!read_string(in, r) || r.empty()) return fail("route names are truncated");
  }
  if (!read_pod(in, model->dimension) || !read_pod(in, model->scale)) {
    return fail("weights header is truncated");
  }
  if (model->dimension != model->encoder->dimension()) {
    return fail("weights have " + std::to_string(model->dimension) + " features, encoder has " +
                std::to_string(model->encoder->dimension()));
  }
  if (!std::isfinite(model->scale) || model->scale <= 0)
    return fail("calibration scale is invalid");
  model->bias.resize(route_count);
  model->row_start.resize(static_cast<size_t>(model->dimension) + 1);
  if (!read_array(in, model->bias) || !read_array(in, model->row_start)) {
    return fail("weights are truncated");
  }
  const uint64_t nonzero = model->row_start.back();
  if (model->row_start.front() != 0 ||
      !std::is_sorted(model->row_start.begin(), model->row_start.end()) ||
      nonzero > static_cast<uint64_t>(model->dimension) * route_count) {
    return fail("weight index is corrupt");
  }
  model->entry_route.resize(nonzero);
  model->entry_weight.resize(nonzero);
  if (!read_array(in, model->entry_route) || !read_array(in, model->entry_weight)) {
    return fail("weights are truncated");
  }
  // Routes within a row strictly increase, so a row of route_count entries is whole
  // (entry i is route i), which classify() relies on.
  for (uint32_t f = 0; f < model->dimension; ++f) {
    for (uint32_t i = model->row_start[f]; i < model->row_start[f + 1]; ++i) {
      if (model->entry_route[i] >= route_count ||
          (i > model->row_start[f] && model->entry_route[i] <= model->entry_route[i - 1])) {
        return fail("weight index is corrupt at feature " + std::to_string(f));
      }
    }
  }
  if (in.peek() != std::char_traits<char>::eof()) return fail("unexpected bytes after the weights");
  model->quantise();
  return {std::shared_ptr<const linear_intent_classifier>(
              new linear_intent_classifier(std::move(model), options.threshold, options.top_k)),
          ""};
}

}  // namespace switchyard
