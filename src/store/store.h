// The embedded store: one RocksDB database, a column family per keyspace. This header keeps
// RocksDB out of every other translation unit (it is heavy), and is the seam where a
// distributed engine could later stand in.
//
// Durability: write(batch, Durability::Sync) returns only after the batch is in the WAL and
// fsync'ed; RocksDB groups concurrent synced writers into one WAL write + one fsync (group
// commit), so N concurrent requests cost about one sync, not N. Durability::Deferred hands the
// batch to the store's background writer instead (see below): for streams of small records
// nobody was promised, such as the audit record of a read-only call.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class DB;
class WriteBatch;
class Iterator;
class ColumnFamilyHandle;
class Snapshot;
}  // namespace rocksdb

namespace vigil::store {

enum class Keyspace : uint8_t {
  Meta,        // small records: log groups, streams, counters, alarms...
  LogEvents,   // log events, keyed by group id, stream id, time, sequence
  Audit,       // CloudTrail event records, newest first per account/region
  AuditIndex,  // lookup-attribute index over Audit
  Metrics,     // CloudWatch metric series and their aggregated points (services/cloudwatch)
  Lake,        // CloudTrail Lake: event data store events and query results (services/cloudtrail)
  Count
};

enum class Durability {
  Sync,      // in the WAL and fsync'ed when write() returns (power loss safe)
  Buffered,  // in the WAL (the OS's page cache) when write() returns: survives kill -9, not power loss
  // Queued for the store's background writer, which puts everything queued into the WAL as one
  // RocksDB write, within about kDeferredTick (sooner when someone waits). write() returns at
  // once: no write-group hand-off, no wake-up per call under load. A kill -9 can lose what is
  // still queued; wait_for_deferred() makes it Buffered. Memory is bounded: above
  // kMaxDeferredBytes queued, write() waits for the writer. For puts and postings only: a batch
  // that also deletes is written Buffered, after everything queued before it.
  Deferred,
};

class Store;

// An item of a posting list (WriteBatch::add_posting): views into the batch's postings text
// (one buffer per batch, not two strings per item).
struct Posting {
  Keyspace space;
  uint32_t shared_prefix;  // items are packed together only if their first bytes this long are equal
  uint32_t list_offset, list_size, item_offset, item_size;
};
struct Postings {
  std::string text;
  std::vector<Posting> entries;
  std::string_view list(const Posting& p) const { return std::string_view(text).substr(p.list_offset, p.list_size); }
  std::string_view item(const Posting& p) const { return std::string_view(text).substr(p.item_offset, p.item_size); }
};

// Collects writes to apply atomically. Bound to the store whose keyspaces it writes.
class WriteBatch {
 public:
  // `deferred`: the batch is meant for Durability::Deferred (the audit recorder). Its puts are
  // then kept in the writer's queue format and copied into the queue as one block, instead of
  // into a RocksDB batch that write() would walk and copy out again (~1 us per recorded call).
  // Any durability still works: an erase, or a write that is not Deferred, converts them.
  explicit WriteBatch(const Store& store, bool deferred = false);
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  void put(Keyspace space, std::string_view key, std::string_view value);
  void erase(Keyspace space, std::string_view key);
  void erase_range(Keyspace space, std::string_view begin, std::string_view end);  // [begin, end)
  // Adds `item` to the posting list whose keys start with `list` (an index: list = attribute
  // value, items = what has it). A list is stored as packs: key = list + the pack's first
  // item, value = its items in order (decode_pack). Written Deferred, the items one group
  // write holds for a list become one pack (up to kMaxPackItems) when their first
  // `shared_prefix` bytes are equal, so an index costs one key per list and group instead of
  // one per item: under load, a small fraction of the memtable inserts, flush and compaction.
  // Otherwise the batch's own items are packed the same way. So packs of a list never overlap
  // except within items sharing that prefix: a reader merges those (sorts them) and can seek
  // to the prefix. An item must be unique in its list (a pack's key is its first item).
  void add_posting(Keyspace space, std::string_view list, std::string_view item, size_t shared_prefix);
  size_t size_bytes() const;
  bool empty() const;
  const Store& store() const { return *store_; }

 private:
  friend class Store;
  // Moves queued_puts_ into batch_, in order (then every later put goes to batch_).
  void convert_queued_puts();
  const Store* store_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  Postings postings_;
  bool deferred_ = false;
  std::string queued_puts_;  // deferred_: puts in DeferredShard::puts's format
};

constexpr size_t kMaxPackItems = 1024;
// The items of a pack's value, in order; false if the value is not a pack.
bool decode_pack(std::string_view value, std::vector<std::string_view>& items);

class Iterator {
 public:
  explicit Iterator(rocksdb::Iterator* it);
  ~Iterator();
  void seek(std::string_view key);             // first key >= key
  void seek_for_prev(std::string_view key);    // last key <= key
  void seek_to_first();
  void seek_to_last();
  bool valid() const;
  void next();
  void prev();
  std::string_view key() const;
  std::string_view value() const;

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

// A consistent read view: iterators opened with it see the store as it was when it was taken
// (several tightly bounded iterators over one moment). Released on destruction.
class Snapshot {
 public:
  Snapshot(rocksdb::DB* db, const rocksdb::Snapshot* snapshot) : db_(db), snapshot_(snapshot) {}
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

 private:
  friend class Store;
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

class Store {
 public:
  // Opens (creating if needed) the database in `directory`. Throws std::runtime_error with
  // a clear message if the directory is unusable or locked by another process.
  static std::unique_ptr<Store> open(const std::string& directory);
  ~Store();

  // Applies the batch atomically; with Deferred its contents are copied into the queue (the
  // batch is left empty, its memory kept for reuse).
  void write(WriteBatch& batch, Durability durability = Durability::Sync);
  // Returns once every Deferred write queued before the call is in the WAL (Buffered). Readers
  // that must see their own deferred writes call it first (LookupEvents, trail delivery).
  void wait_for_deferred();
  // Bytes of Deferred batches queued and not yet taken by the writer (0 once it caught up).
  int64_t queued_deferred_bytes() const { return deferred_bytes_.load(); }
  // Benchmarks: flushes every memtable and waits until no compaction runs or is due, so the
  // CPU a write costs can be counted whole (background flush and compaction included).
  void settle();
  static constexpr size_t kMaxDeferredBytes = 8u << 20;       // queued beyond this, write() waits
  static constexpr size_t kDeferredGroupBytes = 1u << 20;      // queued beyond this, written at once
  // Otherwise within about this. Why 50 ms: a group write costs the writer about the same
  // whatever its size (the WAL append and its sync-free write, one posting pack per list), so
  // fewer, larger groups cost less per record: the writer's CPU per recorded call under HTTP
  // load was 12.8-15.0 us at 1 ms, 6.1-7.7 at 10 ms, 4.4-4.6 at 50 ms (docs/performance.md).
  // The price: a kill -9 can lose up to about 50 ms of read-only calls' records (changes wait).
  static constexpr std::chrono::microseconds kDeferredTick{50000};
  std::optional<std::string> get(Keyspace space, std::string_view key) const;
  // Iteration bounded to [lower, upper) when given (bounds let RocksDB skip whole files).
  // With a snapshot: as of that snapshot (it must outlive the iterator).
  std::unique_ptr<Iterator> iterate(Keyspace space, std::string_view lower = {}, std::string_view upper = {},
                                    const Snapshot* snapshot = nullptr) const;
  std::unique_ptr<Snapshot> snapshot() const;
  // Drops every key of every keyspace (POST /_vigil/reset).
  void clear_all();
  // Forces the WAL to disk (shutdown).
  void sync();
  const std::string& directory() const { return directory_; }

 private:
  friend class WriteBatch;
  Store() = default;
  rocksdb::ColumnFamilyHandle* handle(Keyspace space) const;
  void run_deferred_writer();
  void stop_deferred_writer();
  std::string directory_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_by_id_;  // RocksDB column family id -> handle

  // The background writer of Deferred batches (run_deferred_writer()).
  // Deferred batches queue in shards (a worker thread always uses the same one), so 128 workers
  // do not contend on one mutex; each shard counts what it ever queued, and the writer records
  // per shard how far it has written. A waiter notes each shard's count, then waits for those.
  // A queued batch is copied into its shard's buffers, not handed over: the caller keeps (and
  // frees) its own memory, and the writer swaps the buffers out whole and back in empty with
  // their capacity. Handing each batch's heap objects to the writer made every call's memory
  // be freed by another thread, which glibc's malloc pays for on both sides (arena locks, empty
  // per-thread caches): under load, more CPU than the record itself.
  static constexpr size_t kDeferredShards = 16;
  struct alignas(64) DeferredShard {
    std::mutex mutex;
    std::string puts;   // queued puts, in queue order: family id (u32) | key size (varint) | key | value size | value
    Postings postings;  // queued postings (offsets into its own text)
    uint64_t batches = 0;  // batches in the buffers
    int64_t bytes = 0;     // what write() counted in deferred_bytes_ for them (taken back exactly)
    uint64_t queued = 0;   // batches ever queued
  };
  std::array<DeferredShard, kDeferredShards> deferred_shards_;
  std::atomic<int64_t> deferred_pending_{0};  // queued, not yet taken (may dip below 0 briefly)
  std::atomic<int64_t> deferred_bytes_{0};
  std::atomic<bool> deferred_sleeping_{false};  // in the untimed wait: the next write() wakes it
  // Under deferred_mutex_:
  std::mutex deferred_mutex_;
  std::condition_variable deferred_work_, deferred_done_;
  std::array<uint64_t, kDeferredShards> deferred_written_{};
  bool deferred_stop_ = false;
  bool deferred_urgent_ = false;  // someone waits (or the queue is full): write now
  std::thread deferred_writer_;
};

}  // namespace vigil::store
