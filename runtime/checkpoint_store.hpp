#pragma once
// The durable record of every run: RocksDB, one WriteBatch per step. Layout, value
// formats and the durability trade-off are in docs/durability.md.
//
//   auto opened = checkpoint_store::open({"/var/lib/switchyard/runs"});
//   if (!opened.ok()) fail(opened.error);          // e.g. locked by another process
//   auto written = opened.store->write_step(state, &record, calls);
//
// Column families: `runs` (run id -> the state, binary, written when a run starts,
// parks and ends; an ended run's holds the records of the steps its last write closed),
// `steps` (run id, step number -> one step's record: the delta, with
// the step's paid calls and, while the run goes on, where it continues), `ledger` (call
// id -> what the call cost, for calls that may repeat an earlier attempt's), `default`
// (layout version). Layout 5 (binary step records and states, an ended run's last
// records inside its state); a database of layout 1 to 4 is upgraded in place at open.
//
// Thread-safe: any number of run actors may write concurrently; each run is written
// by one actor at a time, which is what makes the ledger's check-then-put safe.
// Errors are values (`std::string`, empty when fine), never exceptions.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caf/meta/type_name.hpp"
#include "runtime/messages.hpp"

namespace switchyard {

/// The version (`v`) of the JSON state documents of layouts 1 to 3; decode accepts it
/// only. Layout 4 writes states binary (encode_checkpoint).
inline constexpr int checkpoint_schema_version = 1;
/// The version of the key layout (docs/durability.md); layouts 1 to 4 are read and
/// upgraded.
inline constexpr int store_layout_version = 5;

/// A run's state after its last checkpointed step: enough to continue it.
struct run_checkpoint {
  std::string run_id;
  std::string workflow;
  std::string input;  // what the run was started with
  std::string thread_id;
  bool own_thread = false;  // the thread was made up for this run alone
  run_status status = run_status::running;
  std::string reason;     // blocked: why; escalated: the limit; failed: the error kind
  std::string detail;     // human-readable explanation
  std::string waits_for;  // blocked: the provider (or "checkpoint_store") it waits for
  std::string output;     // final output once ended
  // Where the run continues: the graph node to run next (or being run), its input, and
  // the step number and hop count it starts with. Calls nested in that node's step and
  // already recorded are replayed from their records, not asked again.
  std::string next_node;
  step_kind next_kind = step_kind::node;
  std::string next_input;
  uint32_t next_step = 0;
  uint32_t next_hops = 0;
  uint32_t hops = 0;   // hops made so far
  uint32_t steps = 0;  // step records written so far (highest step number + 1)
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  int64_t spent_nano_usd = 0;  // sum of the recorded steps' costs
  bool escalating = false;     // an escalation agent is at work for `reason`
  int64_t created_ms = 0;      // unix time
  int64_t updated_ms = 0;
  // The run's checkpoint writes so far. A running run's state is carried by its step
  // records (the continuation); the newest (highest seq) of the stored state and those
  // is where the run stands. load() and list() return that one.
  uint32_t seq = 0;
};

/// One paid model call, keyed by its call id ("<run id>/<step>.<n>").
struct ledger_entry {
  std::string call_id;
  std::string run_id;
  std::string thread_id;
  std::string model;
  uint64_t tokens = 0;
  int64_t nano_usd = 0;
};

struct store_options {
  std::string path;
  /// fsync the WAL on every step's batch: survives power loss, costs ~300 us a step
  /// on this disk. Off: a process crash loses nothing (the WAL is in the OS page
  /// cache), a power loss may lose the last steps. Default: false.
  bool sync = false;
  /// Open without taking the lock, for `runs list` / `runs show` beside a live process.
  bool read_only = false;
};

/// A transcript line's fields as a step record holds them, borrowed: what the run actor
/// encodes a closed step from without copying it into a step_record first.
struct step_view {
  uint32_t step = 0;
  step_kind kind = step_kind::node;
  std::string_view agent;
  std::string_view caller;
  uint32_t hops = 0;
  std::string_view output;
  std::string_view label;
  std::string_view model;
  std::string_view tier;
  uint32_t model_calls = 0;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  double cost_usd = 0;
  double latency_ms = 0;
  std::string_view error;
  std::string_view route;
  bool downgraded = false;
  std::string_view decisions;  // compact traces (runtime/trace_codec.hpp)
};

/// A closed step's record, encoded when the step closed (encode_step_parts): the binary
/// record (layout 3) up to its paid calls and continuation, which go in when it is
/// written (prepare_encoded).
struct encoded_step {
  uint32_t step = 0;
  std::string document;
  // Where the step's output lies in `document`: a continuation leaves out a next input
  // equal to it.
  uint32_t output_at = 0;
  uint32_t output_size = 0;
  std::string_view output() const {
    return std::string_view{document}.substr(output_at, output_size);
  }
};

/// One run's checkpoint, encoded and ready to be written with others in one batch
/// (group commit, see checkpoint_store::write_group). Encoding happens on the caller's
/// thread; the writer only copies bytes into the batch.
struct prepared_write {
  std::string run_id;
  std::string state;  // the encoded run_checkpoint; empty: carried by the last step record
  // Layout 5: the steps whose records are inside `state` (an ended run's last write),
  // not under keys of their own.
  std::vector<uint32_t> state_steps;
  std::vector<std::string> step_keys;
  std::vector<std::string> step_values;    // with the step's paid calls (and continuation)
  std::vector<std::string> step_call_ids;  // the calls inside step_values
  std::vector<std::string> call_ids;       // calls for the `ledger` family (may repeat)
  std::vector<std::string> call_values;
  bool drops_steps = false;  // delete step records numbered from drop_steps_from first
  uint32_t drop_steps_from = 0;
  bool calls_may_repeat = true;  // see write_step
  uint32_t bytes = 0;            // what the write adds, as write_step counts it

  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, prepared_write& x) {
    return f(caf::meta::type_name("prepared_write"), x.run_id, x.state, x.state_steps, x.step_keys,
             x.step_values, x.step_call_ids, x.call_ids, x.call_values, x.drops_steps,
             x.drop_steps_from, x.calls_may_repeat, x.bytes);
  }
};

struct write_outcome {
  std::string error;        // empty: written
  size_t bytes = 0;         // size of the batch (state + step delta + ledger entries)
  size_t ledger_added = 0;  // calls newly counted (those already present are skipped)
  bool ok() const { return error.empty(); }
};

/// A decoded state, or why it could not be decoded.
struct loaded_run {
  std::string run_id;
  std::optional<run_checkpoint> state;
  std::string error;  // decode problem; empty when `state` is set
};

class checkpoint_store {
 public:
  struct open_result {
    std::unique_ptr<checkpoint_store> store;
    std::string error;    // names the path and what is wrong (locked, unreadable...)
    bool locked = false;  // another process holds the database
    bool ok() const { return store != nullptr; }
  };

  /// Opens (creating when missing, unless read-only) the store at `opts.path`.
  static open_result open(const store_options& opts);
  ~checkpoint_store();
  checkpoint_store(const checkpoint_store&) = delete;
  checkpoint_store& operator=(const checkpoint_store&) = delete;

  const std::string& path() const;

  /// One WriteBatch: `state`, the records of the steps just closed (usually one: the
  /// delta, never the history) and their paid calls. A call whose id is already in
  /// the ledger is not written again. A running state with steps is carried by the
  /// last step record (its continuation), not written to `runs`; an ended state holds
  /// the records of its steps inside it (layout 5), under no keys of their own; the
  /// calls of those steps go inside their records. When `drop_steps_from` is set, step records
  /// numbered from it on are deleted first (an attempt that ended earlier than a
  /// previous one got).
  /// `calls_may_repeat` false promises that no earlier attempt can have written these
  /// calls (steps beyond the run's last checkpoint) and skips the ledger lookup.
  write_outcome write_step(const run_checkpoint& state, const std::vector<step_record>& steps,
                           const std::vector<ledger_entry>& calls,
                           std::optional<uint32_t> drop_steps_from = std::nullopt,
                           bool calls_may_repeat = true);

  /// What write_step() would write, encoded, for write_group().
  static prepared_write prepare_step(const run_checkpoint& state,
                                     const std::vector<step_record>& steps,
                                     const std::vector<ledger_entry>& calls,
                                     std::optional<uint32_t> drop_steps_from = std::nullopt,
                                     bool calls_may_repeat = true);
  /// prepare_step() from steps encoded when they closed (encode_step_parts).
  static prepared_write prepare_encoded(const run_checkpoint& state,
                                        const std::vector<encoded_step>& steps,
                                        const std::vector<ledger_entry>& calls,
                                        std::optional<uint32_t> drop_steps_from = std::nullopt,
                                        bool calls_may_repeat = true);

  /// Group commit: several runs' prepared writes in ONE WriteBatch (one WAL append,
  /// one fsync when `sync`). Outcomes come back one per write, in order. A write the
  /// write hook refuses fails alone; a failed batch fails every write in it. Each
  /// write's ledger entries are checked against the ledger and the group as write_step
  /// does. Called by one thread at a time per run (the checkpoint writer).
  std::vector<write_outcome> write_group(const std::vector<prepared_write>& writes);

  /// Several states in one batch (a batch of new runs, before any starts).
  write_outcome write_states(const std::vector<run_checkpoint>& states);

  /// The state of one run; nullopt when unknown. Decode errors come back in `error`.
  std::optional<loaded_run> load(const std::string& run_id) const;
  /// Every run, in run id order.
  std::vector<loaded_run> list() const;
  /// The recorded steps of a run, by step number; `errors` gets undecodable records.
  std::vector<step_record> steps(const std::string& run_id,
                                 std::vector<std::string>* errors = nullptr) const;
  /// The run's ledger entries.
  std::vector<ledger_entry> ledger(const std::string& run_id) const;
  /// True when `call_id` is already in the ledger.
  bool has_call(const std::string& call_id) const;

  /// Deletes a run: state, steps and ledger entries. Returns an error or "".
  std::string erase(const std::string& run_id);
  /// Deletes ended runs (completed, escalated, failed) last updated before
  /// `cutoff_ms` (unix time). Returns how many went; errors go to `error`.
  size_t erase_ended_before(int64_t cutoff_ms, std::string* error = nullptr);

  /// WriteBatches written so far (a group commit counts once), for benchmarks.
  uint64_t batches_written() const;

  /// Bytes of the database's files on disk (SST + WAL), an estimate.
  uint64_t disk_bytes() const;

  /// Tests and benchmarks: `hook` sees every later write's batch size before it is
  /// written; a non-empty return fails that write with the message (a full disk, a
  /// read-only volume). Thread-safe; the hook itself must be too.
  void set_write_hook(std::function<std::string(size_t batch_bytes)> hook);
  /// Tools and tests only: replaces a run's state with raw bytes.
  std::string put_raw_state(const std::string& run_id, const std::string& bytes);

 private:
  struct impl;
  explicit checkpoint_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// A stored run as a run_result: its state's outcome, its transcript `steps`, and the
/// tokens and cost those add up to.
run_result stored_result(const run_checkpoint& c, std::vector<step_record> steps);

/// The state as stored (binary, layout 4, documented in docs/durability.md), and back.
std::string encode_checkpoint(const run_checkpoint& x);
/// Layout 5: an ended run's state with the (encoded) records of the steps its last
/// write closed inside it; decode_checkpoint reads the state and skips the records.
std::string encode_checkpoint_with_steps(const run_checkpoint& x,
                                         const std::vector<std::string>& records);
/// The state as layouts 1 to 3 stored it (versioned JSON): for tests of older stores.
std::string encode_checkpoint_json(const run_checkpoint& x);
/// Decodes a stored state, binary or JSON; on failure returns nullopt and sets `error`
/// (naming the field and byte offset that do not decode).
std::optional<run_checkpoint> decode_checkpoint(const std::string& bytes, std::string& error);

/// A step record as this build writes it (binary, layout 3), without calls or continuation.
std::string encode_step(const step_record& x);
/// A step record as layouts 1 and 2 wrote it (JSON, then the compact traces): for tests
/// of stores older builds left.
std::string encode_step_json(const step_record& x);
/// A layout-2 step record with paid calls and, when given, the continuation to `state`.
std::string encode_step_layout2(const step_record& x, const std::vector<ledger_entry>& calls,
                                const run_checkpoint* state);
/// A step record in the two parts prepare_step() puts together (see encoded_step).
encoded_step encode_step_parts(const step_view& x);
std::optional<step_record> decode_step(const std::string& bytes, std::string& error);

/// Unix time in milliseconds (system clock).
int64_t unix_now_ms();

/// True for completed, escalated and failed.
bool is_ended(run_status s);
/// Parses "running", "blocked", ...; nullopt when unknown.
std::optional<run_status> parse_run_status(const std::string& s);

}  // namespace switchyard
