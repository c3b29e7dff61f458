#include "store/store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <stdexcept>

namespace vigil::store {

namespace {
const char* kKeyspaceNames[] = {"default", "log_events", "audit", "audit_index", "metrics", "lake"};
static_assert(sizeof(kKeyspaceNames) / sizeof(kKeyspaceNames[0]) == static_cast<size_t>(Keyspace::Count));

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

void check(const rocksdb::Status& status, const char* what) {
  if (!status.ok()) throw std::runtime_error(std::string(what) + ": " + status.ToString());
}

rocksdb::ColumnFamilyOptions keyspace_options(Keyspace space) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Log events are scanned sequentially: big blocks mean fewer block transitions per event.
  table.block_size = space == Keyspace::LogEvents ? 64 * 1024 : 4 * 1024;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Log events and audit records are text: zstd on the bottom level, lz4 above (fast writes).
  options.compression = rocksdb::kLZ4Compression;
  options.bottommost_compression = rocksdb::kZSTD;
  options.write_buffer_size = space == Keyspace::LogEvents ? 64 << 20 : 16 << 20;
  return options;
}
}  // namespace

WriteBatch::WriteBatch(const Store& store) : store_(&store), batch_(std::make_unique<rocksdb::WriteBatch>()) {}
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;

void WriteBatch::put(Keyspace space, std::string_view key, std::string_view value) {
  check(batch_->Put(store_->handle(space), slice(key), slice(value)), "batch put");
}
void WriteBatch::erase(Keyspace space, std::string_view key) { check(batch_->Delete(store_->handle(space), slice(key)), "batch delete"); }
void WriteBatch::erase_range(Keyspace space, std::string_view begin, std::string_view end) {
  check(batch_->DeleteRange(store_->handle(space), slice(begin), slice(end)), "batch delete range");
}
size_t WriteBatch::size_bytes() const { return batch_->GetDataSize(); }
bool WriteBatch::empty() const { return batch_->Count() == 0; }

Iterator::Iterator(rocksdb::Iterator* it) : it_(it) {}
Iterator::~Iterator() = default;
void Iterator::seek(std::string_view key) { it_->Seek(slice(key)); }
void Iterator::seek_for_prev(std::string_view key) { it_->SeekForPrev(slice(key)); }
void Iterator::seek_to_first() { it_->SeekToFirst(); }
void Iterator::seek_to_last() { it_->SeekToLast(); }
bool Iterator::valid() const { return it_->Valid(); }
void Iterator::next() { it_->Next(); }
void Iterator::prev() { it_->Prev(); }
std::string_view Iterator::key() const {
  auto k = it_->key();
  return {k.data(), k.size()};
}
std::string_view Iterator::value() const {
  auto v = it_->value();
  return {v.data(), v.size()};
}


std::unique_ptr<Store> Store::open(const std::string& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) throw std::runtime_error("cannot create data directory " + directory + ": " + ec.message());
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 3;
  options.max_total_wal_size = 256 << 20;
  options.enable_pipelined_write = true;
  // The memtable insert is PutLogEvents' largest store cost: one skiplist insert per event.
  // Concurrent memtable writes let each writer of a commit group insert its own batch in
  // parallel, but every insert then searches the skiplist from the top: ~2 x log2(entries)
  // key comparisons (~40 in a full 64 MB memtable). Serial inserts by the group's memtable
  // leader start from the previous insert's position instead, and events arrive in key order
  // per stream (group id, stream id, time, sequence), so most inserts cost a few comparisons:
  // far less CPU in total on a machine with few cores. Durability is unchanged (WAL + fsync
  // before any writer returns), and so is visibility (in sequence order).
  // (memtable_insert_with_hint_prefix_extractor would keep one position per stream, but with
  // it Debian's RocksDB 7.8 aborts on a skiplist assertion (InlineSkipList::
  // FindSpliceForLevel) once range deletes (retention, DeleteLogStream) hit a hinted prefix:
  // the per-prefix hints appear to be shared with the range-deletion skiplist. Not safe.)
  options.allow_concurrent_memtable_write = false;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (size_t i = 0; i < static_cast<size_t>(Keyspace::Count); ++i)
    families.emplace_back(kKeyspaceNames[i], keyspace_options(static_cast<Keyspace>(i)));
  std::unique_ptr<Store> store(new Store());
  store->directory_ = directory;
  rocksdb::DB* db = nullptr;
  auto status = rocksdb::DB::Open(options, directory, families, &store->handles_, &db);
  if (!status.ok()) {
    std::string message = status.ToString();
    if (message.find("lock") != std::string::npos)
      throw std::runtime_error("data directory " + directory + " is in use by another process (" + message + ")");
    throw std::runtime_error("cannot open data directory " + directory + ": " + message);
  }
  store->db_.reset(db);
  return store;
}

Store::~Store() {
  if (!db_) return;
  db_->FlushWAL(true);
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

rocksdb::ColumnFamilyHandle* Store::handle(Keyspace space) const { return handles_.at(static_cast<size_t>(space)); }

void Store::write(WriteBatch& batch, Durability durability) {
  // RocksDB's per-thread perf counters default to on (kEnableCount): every memtable key
  // comparison then bumps a thread-local counter nobody here reads. Off, once per thread.
  thread_local bool perf_counters_off = (rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable), true);
  (void)perf_counters_off;
  rocksdb::WriteOptions options;
  options.sync = durability == Durability::Sync;
  check(db_->Write(options, batch.batch_.get()), "write");
}

std::optional<std::string> Store::get(Keyspace space, std::string_view key) const {
  std::string value;
  auto status = db_->Get(rocksdb::ReadOptions(), handle(space), slice(key), &value);
  if (status.IsNotFound()) return std::nullopt;
  check(status, "get");
  return value;
}

Snapshot::~Snapshot() { db_->ReleaseSnapshot(snapshot_); }

std::unique_ptr<Snapshot> Store::snapshot() const { return std::make_unique<Snapshot>(db_.get(), db_->GetSnapshot()); }

std::unique_ptr<Iterator> Store::iterate(Keyspace space, std::string_view lower, std::string_view upper, const Snapshot* snapshot) const {
  struct Bounds {
    std::string lower, upper;
    rocksdb::Slice lower_slice, upper_slice;
  };
  // RocksDB keeps pointers to the bound slices: they must outlive the iterator (one small
  // allocation per iteration).
  auto bounds = std::make_shared<Bounds>();
  bounds->lower.assign(lower);
  bounds->upper.assign(upper);
  bounds->lower_slice = slice(bounds->lower);
  bounds->upper_slice = slice(bounds->upper);
  rocksdb::ReadOptions options;
  if (snapshot) options.snapshot = snapshot->snapshot_;
  if (!lower.empty()) options.iterate_lower_bound = &bounds->lower_slice;
  if (!upper.empty()) options.iterate_upper_bound = &bounds->upper_slice;
  rocksdb::Iterator* raw = db_->NewIterator(options, handle(space));
  // Tie the bounds' lifetime to the iterator through RocksDB's cleanup hook.
  auto* keep = new std::shared_ptr<Bounds>(std::move(bounds));
  raw->RegisterCleanup([](void* arg1, void*) { delete static_cast<std::shared_ptr<Bounds>*>(arg1); }, keep, nullptr);
  return std::make_unique<Iterator>(raw);
}

void Store::clear_all() {
  for (size_t i = 0; i < handles_.size(); ++i) {
    rocksdb::WriteOptions options;
    options.sync = true;
    check(db_->DeleteRange(options, handles_[i], rocksdb::Slice("", 0), rocksdb::Slice("\xff\xff\xff\xff\xff\xff\xff\xff", 8)), "clear");
  }
}

void Store::sync() { db_->FlushWAL(true); }

}  // namespace vigil::store
