#include "store/store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <pthread.h>

#include "core/encoding.h"
#include "core/ids.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <chrono>
#include <thread>
#include <cstdio>
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
  if (space == Keyspace::Audit || space == Keyspace::AuditIndex) {
    // Every API call writes a record: in a young store every level is the bottommost, so each
    // flush and compaction of these keyspaces paid zstd's default level 3, the largest single
    // CPU cost of recording (audit_history_bench record-cost, settled: 32 us per call). Level 1
    // stores as small here (187 B per event) for about 17% less CPU per call.
    options.bottommost_compression_opts.level = 1;
    options.bottommost_compression_opts.enabled = true;
  }
  options.write_buffer_size = space == Keyspace::LogEvents ? 64 << 20 : 16 << 20;
  if (space == Keyspace::Audit || space == Keyspace::AuditIndex) {
    // Every API call writes here, so compaction is most of what a record costs after it is
    // written (audit_history_bench record-cost over 1.2 M calls, settled: 18.8 us per call
    // with the defaults). Larger memtables and a first level of 512 MB that is compacted only
    // once 8 files wait rewrite each record fewer times: 12.6 us per call, for up to 64 MB
    // more memory per keyspace under load and at most 8 L0 files for a lookup to merge.
    options.write_buffer_size = 32 << 20;
    // Reads here are mostly seeks and gets of keys an index just named, but a get must probe
    // every L0 file whose range covers its key (up to 8, each spanning all scopes), and some
    // gets are for keys often absent (a new template, an Insights event's trail entry, an
    // EventId a caller typed): filters stay on L0 and the upper levels, not on the bottom
    // level, where most keys are and most of the hashing at compaction was.
    options.optimize_filters_for_hits = true;
    options.level0_file_num_compaction_trigger = 8;
    options.max_bytes_for_level_base = 512 << 20;
  }
  return options;
}

// A put in the deferred queue's format (Store::DeferredShard::puts): family id (u32) | key
// size (varint) | key | value size (varint) | value.
void append_queued_put(std::string& out, uint32_t family, std::string_view key, std::string_view value) {
  char id[4];
  std::memcpy(id, &family, 4);
  out.append(id, 4);
  append_varint(out, key.size());
  out.append(key);
  append_varint(out, value.size());
  out.append(value);
}

// Calls f(family, key, value) for each put of a queue-format buffer, in order; false if the
// buffer is malformed.
template <typename F>
bool for_each_queued_put(std::string_view buffer, F&& f) {
  for (size_t at = 0; at < buffer.size();) {
    uint32_t family = 0;
    uint64_t key_size = 0, value_size = 0;
    if (buffer.size() - at < 4) return false;
    std::memcpy(&family, buffer.data() + at, 4);
    at += 4;
    if (!read_varint(buffer, at, key_size) || key_size > buffer.size() - at) return false;
    std::string_view key = buffer.substr(at, key_size);
    at += key_size;
    if (!read_varint(buffer, at, value_size) || value_size > buffer.size() - at) return false;
    std::string_view value = buffer.substr(at, value_size);
    at += value_size;
    if (!f(family, key, value)) return false;
  }
  return true;
}
}  // namespace

WriteBatch::WriteBatch(const Store& store, bool deferred)
    : store_(&store), batch_(std::make_unique<rocksdb::WriteBatch>()), deferred_(deferred) {}
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;

void WriteBatch::put(Keyspace space, std::string_view key, std::string_view value) {
  if (deferred_) return append_queued_put(queued_puts_, store_->handle(space)->GetID(), key, value);
  check(batch_->Put(store_->handle(space), slice(key), slice(value)), "batch put");
}
void WriteBatch::convert_queued_puts() {
  deferred_ = false;
  const bool ok = for_each_queued_put(queued_puts_, [&](uint32_t family, std::string_view key, std::string_view value) {
    return family < store_->handles_by_id_.size() && store_->handles_by_id_[family] &&
           batch_->Put(store_->handles_by_id_[family], slice(key), slice(value)).ok();
  });
  queued_puts_.clear();
  if (!ok) throw std::runtime_error("batch put of queued puts failed");
}
void WriteBatch::erase(Keyspace space, std::string_view key) {
  if (deferred_) convert_queued_puts();  // the delete must follow the puts before it
  check(batch_->Delete(store_->handle(space), slice(key)), "batch delete");
}
void WriteBatch::erase_range(Keyspace space, std::string_view begin, std::string_view end) {
  if (deferred_) convert_queued_puts();
  check(batch_->DeleteRange(store_->handle(space), slice(begin), slice(end)), "batch delete range");
}
void WriteBatch::add_posting(Keyspace space, std::string_view list, std::string_view item, size_t shared_prefix) {
  std::string& text = postings_.text;
  const auto at = static_cast<uint32_t>(text.size());
  text += list;
  text += item;
  postings_.entries.push_back({space, static_cast<uint32_t>(shared_prefix), at, static_cast<uint32_t>(list.size()),
                               static_cast<uint32_t>(at + list.size()), static_cast<uint32_t>(item.size())});
}
size_t WriteBatch::size_bytes() const {
  return batch_->GetDataSize() + queued_puts_.size() + postings_.text.size() + postings_.entries.size() * sizeof(Posting);
}
bool WriteBatch::empty() const { return batch_->Count() == 0 && queued_puts_.empty() && postings_.entries.empty(); }

// A pack's value: per item, its length (LEB128) then its bytes.
bool decode_pack(std::string_view value, std::vector<std::string_view>& items) {
  items.clear();
  size_t pos = 0;
  while (pos < value.size()) {
    uint64_t length = 0;
    if (!read_varint(value, pos, length) || length > value.size() - pos) return false;
    items.push_back(value.substr(pos, length));
    pos += length;
  }
  return !items.empty();
}

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
  for (auto* h : store->handles_) {
    if (h->GetID() >= store->handles_by_id_.size()) store->handles_by_id_.resize(h->GetID() + 1, nullptr);
    store->handles_by_id_[h->GetID()] = h;
  }
  store->deferred_writer_ = std::thread([s = store.get()] { s->run_deferred_writer(); });
  return store;
}

void Store::stop_deferred_writer() {
  if (!deferred_writer_.joinable()) return;
  {
    std::lock_guard lock(deferred_mutex_);
    deferred_stop_ = true;
  }
  deferred_work_.notify_one();
  deferred_writer_.join();
}

Store::~Store() {
  if (!db_) return;
  stop_deferred_writer();  // drains what is queued first
  db_->FlushWAL(true);
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

rocksdb::ColumnFamilyHandle* Store::handle(Keyspace space) const { return handles_.at(static_cast<size_t>(space)); }

namespace {
// Copies a batch's puts into a shard's buffer (Store::DeferredShard::puts).
class AppendPuts : public rocksdb::WriteBatch::Handler {
 public:
  explicit AppendPuts(std::string& out) : out_(out) {}
  rocksdb::Status PutCF(uint32_t id, const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    append_queued_put(out_, id, std::string_view(key.data(), key.size()), std::string_view(value.data(), value.size()));
    return rocksdb::Status::OK();
  }

 private:
  std::string& out_;
};

// Puts the queued puts into one batch, in key order per keyspace. Why sort: the memtable is a
// skiplist, and an insert costs a walk from the top (a cache miss per level, ~2 us in a full
// memtable) unless the key lands just after the previous insert, when RocksDB's
// sequential-insert splice makes it a few comparisons. Audit records of one group share most
// index ranges (same user, operation, source...), so sorted they mostly land next to each
// other. Equal keys keep their queue order (stable sort): the last one still wins.
// The keys of a keyspace share a long prefix (an audit record's: account, region and the high
// bytes of its time), so each entry carries the 8 bytes after its keyspace's common prefix as
// a number: most comparisons are one integer compare instead of walking that prefix (sorting
// was the writer's largest cost: bytes_less and memcmp, ~14% of the recorder's CPU in process).
// Cost for k puts: one pass over the buffers, one over the keys for the common prefixes,
// O(k log k) in-cache comparisons, k copies.
template <typename Buffers>
bool put_sorted(const Buffers& buffers, rocksdb::WriteBatch& group, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
  struct Entry {
    uint32_t family;
    uint32_t common;  // the length of its keyspace's common prefix
    uint64_t head;    // the key's 8 bytes after it, big-endian, zero-padded
    std::string_view key, value;
  };
  std::vector<Entry> entries;
  for (const std::string& buffer : buffers) {
    const bool ok = for_each_queued_put(buffer, [&](uint32_t family, std::string_view key, std::string_view value) {
      entries.push_back({family, 0, 0, key, value});
      return true;
    });
    if (!ok) return false;
  }
  // Each keyspace's common prefix: the shortest agreement of its keys with its first key.
  struct Common {
    std::string_view first;
    size_t length = 0;
    bool seen = false;
  };
  std::vector<Common> common(handles.size() + 1);
  for (const Entry& e : entries) {
    Common& c = common[std::min<size_t>(e.family, handles.size())];
    if (!c.seen) {
      c = {e.key, e.key.size(), true};
      continue;
    }
    size_t n = 0;
    const size_t limit = std::min(c.length, e.key.size());
    while (n < limit && c.first[n] == e.key[n]) ++n;
    c.length = n;
  }
  for (Entry& e : entries) {
    e.common = static_cast<uint32_t>(common[std::min<size_t>(e.family, handles.size())].length);
    uint64_t head = 0;  // little-endian host (static_assert at bytes_less)
    std::memcpy(&head, e.key.data() + e.common, std::min<size_t>(8, e.key.size() - e.common));
    e.head = __builtin_bswap64(head);
  }
  // Heads that differ order their keys as the bytes do (a zero pad only sorts a prefix first);
  // equal heads compare the bytes after the common prefix.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.family != b.family) return a.family < b.family;
    if (a.head != b.head) return a.head < b.head;
    return bytes_less(a.key.substr(a.common), b.key.substr(b.common));
  });
  for (const Entry& e : entries)
    if (e.family >= handles.size() || !handles[e.family] || !group.Put(handles[e.family], slice(e.key), slice(e.value)).ok()) return false;
  return true;
}


// A posting with its list and item as views (into the Postings text they came from).
struct PostingRef {
  Keyspace space;
  uint32_t shared_prefix;
  std::string_view list, item;
};
std::vector<PostingRef> posting_refs(const std::vector<const Postings*>& sources) {
  std::vector<PostingRef> refs;
  for (const Postings* source : sources)
    for (const Posting& p : source->entries) refs.push_back({p.space, p.shared_prefix, source->list(p), source->item(p)});
  return refs;
}


// Writes postings as packs (WriteBatch::add_posting): grouped by keyspace and list, lists in
// key order, each list's items sorted, then cut wherever the item's shared prefix changes or a
// pack is full. Cost for p postings over l lists: p hash lookups, O(l log l) list comparisons
// (a group write has a few lists: one per attribute value), O(p log p) item comparisons (mostly
// one integer compare each), one put per pack. Sorting the postings whole instead compared the
// long shared list prefixes for every pair: 8% of the recorder's CPU.
bool put_packs(const std::vector<PostingRef>& postings, rocksdb::WriteBatch& out, const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
  // An item with its first 8 bytes as a big-endian number (zero-padded): sorting compares
  // integers held in the array, and only items of one millisecond (equal heads) compare bytes.
  // Heads that differ order their items as the bytes do (a zero pad only sorts a prefix first).
  struct Item {
    uint64_t head;
    std::string_view bytes;
  };
  struct List {
    Keyspace space;
    uint32_t shared_prefix;
    std::string_view name;
    std::vector<Item> items;
  };
  std::vector<List> lists;
  std::unordered_map<std::string_view, size_t> by_name[static_cast<size_t>(Keyspace::Count)];
  for (const PostingRef& p : postings) {
    auto [it, added] = by_name[static_cast<size_t>(p.space)].try_emplace(p.list, lists.size());
    if (added) lists.push_back({p.space, p.shared_prefix, p.list, {}});
    uint64_t head = 0;  // little-endian host (static_assert at bytes_less)
    std::memcpy(&head, p.item.data(), std::min<size_t>(8, p.item.size()));
    lists[it->second].items.push_back({__builtin_bswap64(head), p.item});
  }
  std::sort(lists.begin(), lists.end(), [](const List& a, const List& b) { return a.space != b.space ? a.space < b.space : a.name < b.name; });
  std::string key, value;
  for (List& list : lists) {
    std::sort(list.items.begin(), list.items.end(),
              [](const Item& a, const Item& b) { return a.head != b.head ? a.head < b.head : bytes_less(a.bytes, b.bytes); });
    const auto& items = list.items;
    for (size_t i = 0; i < items.size();) {
      const std::string_view shared = items[i].bytes.substr(0, list.shared_prefix);
      key = list.name;
      key += items[i].bytes;
      value.clear();
      for (size_t n = 0; i < items.size() && n < kMaxPackItems; ++i, ++n) {
        if (items[i].bytes.substr(0, list.shared_prefix) != shared) break;
        if (n > 0 && items[i].bytes == items[i - 1].bytes) continue;  // the same item twice: once
        append_varint(value, items[i].bytes.size());
        value += items[i].bytes;
      }
      if (!out.Put(handles.at(static_cast<size_t>(list.space)), key, value).ok()) return false;
    }
  }
  return true;
}

}  // namespace

// The deferred writer: takes everything queued, writes it as one RocksDB write (one WAL
// append, one memtable leader), releases the waiters, repeats. Cost per queued batch: a copy
// of its keys and values into the group batch (sorted: O(k log k) in-cache comparisons for k
// keys) plus its memtable inserts, mostly sequential; the per-write costs (write-group
// hand-offs, WAL syscall) are paid once per group.
// Wake-ups: asleep, the writer is woken by the first batch queued. Once awake it ticks: it
// writes what arrived during the last kDeferredTick, unless someone waits (wait_for_deferred)
// or kDeferredGroupBytes are queued, which wake it at once; a tick with nothing queued puts it
// back to sleep. So under load queuing a batch costs no wake-up and no syscall at all, and a
// queued record reaches the WAL within about a tick.
void Store::run_deferred_writer() {
  pthread_setname_np(pthread_self(), "vigil-deferred");
  std::unique_lock lock(deferred_mutex_);
  bool ticking = false;
  // What one round takes from the shards; kept between rounds for their capacity.
  std::array<std::string, kDeferredShards> taken_puts;
  std::array<Postings, kDeferredShards> taken_postings;
  for (;;) {
    if (ticking) {
      deferred_work_.wait_for(lock, kDeferredTick, [&] {
        return deferred_stop_ || deferred_urgent_ || deferred_bytes_.load() >= static_cast<int64_t>(kDeferredGroupBytes);
      });
    } else {
      // Pairs with write(): it counts its batch in deferred_pending_, then reads this flag
      // (both sequentially consistent), so either the check below sees the batch or the
      // writer of the batch sees the flag and wakes us.
      deferred_sleeping_.store(true);
      deferred_work_.wait(lock, [&] { return deferred_stop_ || deferred_pending_.load() > 0; });
      deferred_sleeping_.store(false);
    }
    if (deferred_pending_.load() <= 0) {
      if (deferred_stop_) return;  // everything is written
      ticking = false;
      continue;
    }
    ticking = true;
    deferred_urgent_ = false;
    lock.unlock();
    std::array<uint64_t, kDeferredShards> upto{};
    int64_t bytes = 0, batches = 0;
    for (size_t i = 0; i < kDeferredShards; ++i) {
      DeferredShard& s = deferred_shards_[i];
      taken_puts[i].clear();
      taken_postings[i].text.clear();
      taken_postings[i].entries.clear();
      std::lock_guard shard_lock(s.mutex);
      upto[i] = s.queued;
      if (s.batches == 0) continue;
      batches += static_cast<int64_t>(s.batches);
      bytes += s.bytes;
      s.batches = 0;
      s.bytes = 0;
      std::swap(s.puts, taken_puts[i]);  // the shard gets the emptied buffers back, with their capacity
      std::swap(s.postings, taken_postings[i]);
    }
    deferred_pending_.fetch_sub(batches);
    deferred_bytes_.fetch_sub(bytes);
    {
      std::lock_guard relock(deferred_mutex_);  // writers held back by kMaxDeferredBytes may queue again
    }
    deferred_done_.notify_all();
    if (batches > 0) {
      // Sized for what was taken (puts in queue format are about their batch size; packs are
      // smaller than their postings): growing it by doubling copied it ~twice per round.
      rocksdb::WriteBatch group(static_cast<size_t>(bytes) + 4096);
      std::vector<const Postings*> sources;
      for (const Postings& p : taken_postings) sources.push_back(&p);
      bool ok = put_sorted(taken_puts, group, handles_by_id_) && put_packs(posting_refs(sources), group, handles_);
      auto status = ok ? db_->Write(rocksdb::WriteOptions(), &group) : rocksdb::Status::Corruption("queued puts");
      // Nobody waits on a deferred write's outcome; a failing disk also fails every synced
      // write, which answers its caller. Say it once per failing group.
      if (!status.ok()) std::fprintf(stderr, "vigil: deferred store write failed: %s\n", status.ToString().c_str());
    }
    lock.lock();
    deferred_written_ = upto;
    deferred_done_.notify_all();
  }
}

void Store::settle() {
  wait_for_deferred();
  rocksdb::FlushOptions flush;
  flush.wait = true;
  for (auto* h : handles_) check(db_->Flush(flush, h), "flush");
  for (;;) {
    uint64_t running = 0, pending = 0, flushes = 0;
    db_->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &running);
    db_->GetIntProperty(rocksdb::DB::Properties::kNumRunningFlushes, &flushes);
    bool any_pending = false;
    for (auto* h : handles_)
      if (db_->GetIntProperty(h, rocksdb::DB::Properties::kCompactionPending, &pending) && pending) any_pending = true;
    if (running == 0 && flushes == 0 && !any_pending) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Store::wait_for_deferred() {
  std::array<uint64_t, kDeferredShards> want{};
  for (size_t i = 0; i < kDeferredShards; ++i) {
    std::lock_guard shard_lock(deferred_shards_[i].mutex);
    want[i] = deferred_shards_[i].queued;
  }
  auto written = [&] {
    for (size_t i = 0; i < kDeferredShards; ++i)
      if (deferred_written_[i] < want[i]) return false;
    return true;
  };
  std::unique_lock lock(deferred_mutex_);
  if (written()) return;
  deferred_urgent_ = true;
  deferred_work_.notify_one();
  deferred_done_.wait(lock, written);
}

void Store::write(WriteBatch& batch, Durability durability) {
  if (durability == Durability::Deferred && (batch.batch_->HasDelete() || batch.batch_->HasDeleteRange() || batch.batch_->HasSingleDelete() ||
                                             batch.batch_->HasMerge())) {
    // Deferred batches hold puts only (records); anything else is written now, after what is
    // queued (so in order).
    wait_for_deferred();
    durability = Durability::Buffered;
  }
  if (durability == Durability::Deferred) {
    if (batch.empty()) return;
    const auto bytes = static_cast<int64_t>(batch.size_bytes());
    if (deferred_bytes_.load() >= static_cast<int64_t>(kMaxDeferredBytes)) {
      std::unique_lock lock(deferred_mutex_);
      deferred_urgent_ = true;
      deferred_work_.notify_one();
      deferred_done_.wait(lock, [&] { return deferred_bytes_.load() < static_cast<int64_t>(kMaxDeferredBytes); });
    }
    static std::atomic<size_t> next_shard{0};
    thread_local const size_t shard = next_shard.fetch_add(1) % kDeferredShards;
    {
      DeferredShard& s = deferred_shards_[shard];
      std::lock_guard shard_lock(s.mutex);
      if (batch.batch_->Count() > 0) {
        AppendPuts append(s.puts);
        batch.batch_->Iterate(&append);
      }
      s.puts += batch.queued_puts_;
      const auto base = static_cast<uint32_t>(s.postings.text.size());
      s.postings.text += batch.postings_.text;
      for (Posting p : batch.postings_.entries) {
        p.list_offset += base;
        p.item_offset += base;
        s.postings.entries.push_back(p);
      }
      ++s.batches;
      s.bytes += bytes;
      ++s.queued;
    }
    // Emptied, its memory kept for the caller's next use (or freed by the caller's thread).
    batch.batch_->Clear();
    batch.queued_puts_.clear();
    batch.postings_.text.clear();
    batch.postings_.entries.clear();
    const int64_t before = deferred_bytes_.fetch_add(bytes);
    deferred_pending_.fetch_add(1);
    const bool crossing = before < static_cast<int64_t>(kDeferredGroupBytes) && before + bytes >= static_cast<int64_t>(kDeferredGroupBytes);
    if (crossing || deferred_sleeping_.load()) {  // see run_deferred_writer()
      std::lock_guard lock(deferred_mutex_);
      if (crossing) deferred_urgent_ = true;
      deferred_work_.notify_one();
    }
    return;
  }
  // RocksDB's per-thread perf counters default to on (kEnableCount): every memtable key
  // comparison then bumps a thread-local counter nobody here reads. Off, once per thread.
  thread_local bool perf_counters_off = (rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable), true);
  (void)perf_counters_off;
  if (!batch.queued_puts_.empty()) batch.convert_queued_puts();
  if (!batch.postings_.entries.empty()) {  // packed within this batch only
    if (!put_packs(posting_refs({&batch.postings_}), *batch.batch_, handles_)) throw std::runtime_error("batch put of postings failed");
    batch.postings_ = Postings();
  }
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
  wait_for_deferred();  // what was queued before the reset must not land after it
  for (size_t i = 0; i < handles_.size(); ++i) {
    rocksdb::WriteOptions options;
    options.sync = true;
    check(db_->DeleteRange(options, handles_[i], rocksdb::Slice("", 0), rocksdb::Slice("\xff\xff\xff\xff\xff\xff\xff\xff", 8)), "clear");
  }
}

void Store::sync() {
  wait_for_deferred();
  db_->FlushWAL(true);
}

}  // namespace vigil::store
