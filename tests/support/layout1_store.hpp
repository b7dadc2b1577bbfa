#pragma once
// A checkpoint store as a layout-1 build wrote it (docs/durability.md, "Layout
// versions"): a state per run in `runs`, plain step records, each paid call in
// `ledger`, and schema_version "1". With `layout2_steps` and schema_version "2", as a
// layout-2 build wrote it: JSON step records holding their paid calls and continuation.
// With `binary_steps` and schema_version "3", as a layout-3 build did (JSON states);
// adding `binary_states` and schema_version "4", as a layout-4 build did (an ended run's
// last records under keys of their own). For the tests that an upgrade reads it whole.

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/checkpoint_store.hpp"

namespace switchyard::testing {

struct layout1_contents {
  std::vector<run_checkpoint> states;                      // seq must be 0: layout 1 had none
  std::vector<std::pair<std::string, step_record>> steps;  // run id, record
  std::vector<ledger_entry> calls;
  std::string schema_version = "1";
  struct layout2_step {
    std::string run_id;
    step_record record;
    std::vector<ledger_entry> calls;          // paid calls inside the record
    std::optional<run_checkpoint> continues;  // the running state it carries, if any
  };
  std::vector<layout2_step> layout2_steps;
  // Binary step records as layout 3 wrote them (with schema_version "3": JSON states).
  std::vector<std::pair<std::string, step_record>> binary_steps;
  bool binary_states = false;  // layout 4: states binary (encode_checkpoint), not JSON
};

/// Writes `contents` into a new database at `path`; returns an error or "".
inline std::string write_layout1_store(const std::string& path, const layout1_contents& contents) {
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, {}}, {"runs", {}}, {"steps", {}}, {"ledger", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(db_opts, path, families, &handles, &db);
  if (!s.ok()) return s.ToString();
  rocksdb::WriteOptions wo;
  db->Put(wo, handles[0], "schema_version", contents.schema_version);
  for (const auto& c : contents.states)
    db->Put(wo, handles[1], c.run_id,
            contents.binary_states ? encode_checkpoint(c) : encode_checkpoint_json(c));
  auto step_key = [](const std::string& run_id, uint32_t step) {
    std::string key = run_id;
    key += '\0';
    for (int shift = 24; shift >= 0; shift -= 8) key += static_cast<char>((step >> shift) & 0xff);
    return key;
  };
  for (const auto& [run_id, rec] : contents.steps)
    db->Put(wo, handles[2], step_key(run_id, rec.step), encode_step_json(rec));
  for (const auto& s : contents.layout2_steps)
    db->Put(wo, handles[2], step_key(s.run_id, s.record.step),
            encode_step_layout2(s.record, s.calls, s.continues ? &*s.continues : nullptr));
  for (const auto& [run_id, rec] : contents.binary_steps)
    db->Put(wo, handles[2], step_key(run_id, rec.step), encode_step(rec));
  for (const auto& e : contents.calls)
    db->Put(wo, handles[3], e.call_id,
            "{\"run_id\":\"" + e.run_id + "\",\"thread_id\":\"" + e.thread_id + "\",\"model\":\"" +
                e.model + "\",\"tokens\":" + std::to_string(e.tokens) +
                ",\"nano_usd\":" + std::to_string(e.nano_usd) + "}");
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  s = db->Close();
  delete db;
  return s.ok() ? std::string{} : s.ToString();
}

/// How many keys the family `family` ("runs", "steps", "ledger") of a closed database
/// holds; -1 when it cannot be read.
inline long stored_key_count(const std::string& path, const std::string& family) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, {}}, {"runs", {}}, {"steps", {}}, {"ledger", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions{}, path, families, &handles, &db).ok())
    return -1;
  long count = 0;
  for (size_t i = 1; i < families.size(); ++i) {
    if (families[i].name != family) continue;
    std::unique_ptr<rocksdb::Iterator> it{db->NewIterator(rocksdb::ReadOptions{}, handles[i])};
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  return count;
}

/// The layout version a database records ("" when it cannot be read).
inline std::string stored_layout_version(const std::string& path) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, {}}, {"runs", {}}, {"steps", {}}, {"ledger", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions{}, path, families, &handles, &db).ok())
    return {};
  std::string version;
  db->Get(rocksdb::ReadOptions{}, handles[0], "schema_version", &version);
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  return version;
}

}  // namespace switchyard::testing
