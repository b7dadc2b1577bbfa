#include "server/cli_router.hpp"

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "router/intent_evaluation.hpp"
#include "router/utterance_file.hpp"

namespace switchyard::cli {

namespace {

using clock_type = std::chrono::steady_clock;

double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

double load_average() {
  double load[1] = {0.0};
  return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

}  // namespace

int router_eval_command(const router_eval_options& opts) {
  if (opts.train_path.empty() == opts.load_path.empty()) {
    std::cerr << "router eval: give exactly one of --train FILE or --load MODEL\n";
    return 2;
  }
  auto classifier_opts = opts.classifier;
  classifier_opts.threshold = opts.threshold;
  if (auto why = classifier_opts.problem(); !why.empty()) {
    std::cerr << "router eval: " << why << '\n';
    return 2;
  }
  auto test = read_utterance_file(opts.test_path);
  if (!test.ok()) {
    std::cerr << test.error << '\n';
    return 2;
  }

  const double load_before = load_average();
  classifier_result model;
  size_t train_examples = 0;
  const auto train_start = clock_type::now();
  const std::clock_t train_cpu_start = std::clock();
  if (!opts.load_path.empty()) {
    model = linear_intent_classifier::load(opts.load_path, classifier_opts);
  } else {
    auto train = read_utterance_file(opts.train_path);
    if (!train.ok()) {
      std::cerr << train.error << '\n';
      return 2;
    }
    train_examples = train.rows.size();
    model = linear_intent_classifier::train(train.rows, classifier_opts);
  }
  const double train_s = std::chrono::duration<double>(clock_type::now() - train_start).count();
  const double train_cpu_s = static_cast<double>(std::clock() - train_cpu_start) / CLOCKS_PER_SEC;
  if (!model.ok()) {
    std::cerr << (opts.load_path.empty() ? opts.train_path : opts.load_path) << ": " << model.error
              << '\n';
    return 2;
  }
  const auto& clf = *model.value;
  if (!opts.save_path.empty()) {
    if (auto problem = clf.save(opts.save_path); !problem.empty()) {
      std::cerr << "router eval: " << problem << '\n';
      return 2;
    }
  }
  const std::set<std::string> known(clf.routes().begin(), clf.routes().end());
  size_t unknown_labels = 0;
  for (const auto& row : test.rows) {
    if (!known.count(row.route) && row.route != opts.oos_label) ++unknown_labels;
  }

  // Warm caches and the allocator on a few queries, then time each call on this thread.
  for (size_t i = 0; i < std::min<size_t>(50, test.rows.size()); ++i) {
    (void)clf.classify(test.rows[i].text);
  }
  std::vector<std::string> truth, predicted;
  // Wall time is what a caller waits; CPU time of this thread leaves out the time the
  // scheduler gave to other processes, which dominates p99 on a loaded machine.
  std::vector<double> latency_us, cpu_us;
  cpu_us.reserve(test.rows.size());
  truth.reserve(test.rows.size());
  predicted.reserve(test.rows.size());
  latency_us.reserve(test.rows.size());
  for (const auto& row : test.rows) {
    const double cpu_start = thread_cpu_us();
    const auto start = clock_type::now();
    auto result = clf.classify(row.text);
    const auto stop = clock_type::now();
    cpu_us.push_back(thread_cpu_us() - cpu_start);
    latency_us.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
    truth.push_back(row.route);
    predicted.push_back(std::move(result.route));
  }
  const auto m = score_intents(truth, predicted, opts.oos_label);
  const double p50 = quantile(latency_us, 0.50);
  const double p99 = quantile(latency_us, 0.99);
  const double cpu_p50 = quantile(cpu_us, 0.50);
  const double cpu_p99 = quantile(cpu_us, 0.99);
  const double load_after = load_average();

  std::cout << std::fixed;
  if (!opts.load_path.empty()) {
    std::cout << "model      " << opts.load_path << " (loaded, not trained)\n";
  } else {
    std::cout << "train      " << opts.train_path << "  " << train_examples << " examples, "
              << clf.routes().size() << " routes\n";
  }
  std::cout << "test       " << opts.test_path << "  " << m.examples << " examples";
  if (unknown_labels > 0) std::cout << " (" << unknown_labels << " with labels never trained on)";
  std::cout << '\n';
  std::cout << "classifier " << to_string(classifier_opts.solver) << " C=" << std::setprecision(3)
            << classifier_opts.c << ", " << clf.encoder().identity() << ", calibration scale "
            << clf.calibration_scale() << ", threshold " << opts.threshold << '\n';
  std::cout << std::setprecision(4);
  std::cout << "accuracy   " << m.accuracy << '\n';
  std::cout << "macro_f1   " << m.macro_f1 << '\n';
  std::cout << "no_route   " << m.no_route << " of " << m.examples << '\n';
  if (m.has_oos) {
    std::cout << "oos_recall " << m.oos_recall << "  (" << m.oos_examples << " out-of-scope '"
              << opts.oos_label << "')\n";
    std::cout << "in_scope   " << m.in_scope_accuracy << " accuracy\n";
  }
  std::cout << std::setprecision(2);
  std::cout << (opts.load_path.empty() ? "train_s    " : "load_s     ") << train_s << "  (CPU "
            << train_cpu_s << " s; load average " << load_before << " before, " << load_after
            << " after)\n";
  std::cout << std::setprecision(1) << "latency    p50 " << p50 << " us, p99 " << p99
            << " us  (classify, one thread, " << latency_us.size() << " calls)\n";
  std::cout << "cpu        p50 " << cpu_p50 << " us, p99 " << cpu_p99
            << " us  (the same calls, this thread's CPU time only)\n";
  if (opts.json) {
    nlohmann::json j = {
        {"accuracy", m.accuracy},
        {"macro_f1", m.macro_f1},
        {"oos_recall", m.has_oos ? nlohmann::json(m.oos_recall) : nlohmann::json()},
        {"in_scope_accuracy", m.has_oos ? nlohmann::json(m.in_scope_accuracy) : nlohmann::json()},
        {"train_s", opts.load_path.empty() ? nlohmann::json(train_s) : nlohmann::json()},
        {"load_s", opts.load_path.empty() ? nlohmann::json() : nlohmann::json(train_s)},
        {"train_cpu_s", opts.load_path.empty() ? nlohmann::json(train_cpu_s) : nlohmann::json()},
        {"p50_us", p50},
        {"p99_us", p99},
        {"p50_cpu_us", cpu_p50},
        {"p99_cpu_us", cpu_p99},
        {"examples", m.examples},
        {"no_route", m.no_route},
        {"routes", clf.routes().size()},
        {"solver", to_string(classifier_opts.solver)},
        {"c", classifier_opts.c},
        {"threshold", opts.threshold},
        {"load_average", load_before}};
    std::cout << j.dump() << '\n';
  }
  return 0;
}

}  // namespace switchyard::cli
