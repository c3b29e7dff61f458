#include "services/logs/log_store.h"

#include <algorithm>
#include <mutex>
#include <queue>

#include "core/aws_error.h"
#include "core/ids.h"
#include "protocol/json_codec.h"

namespace vigil::logs {

namespace {

constexpr std::string_view kGroupPrefix = "lg/";
constexpr std::string_view kStreamPrefix = "ls/";
constexpr std::string_view kIdCounterKey = "ctr/logs-id";
constexpr std::string_view kBootCounterKey = "ctr/logs-boot";
constexpr int64_t kDayMillis = 24LL * 3600 * 1000;
constexpr int64_t kMaxEventAgeMillis = 14 * kDayMillis;
constexpr int64_t kMaxEventLeadMillis = 2LL * 3600 * 1000;
constexpr int64_t kMaxBatchSpanMillis = kDayMillis;
constexpr size_t kPerEventOverhead = 26;  // AWS counts 26 bytes per event on top of its message

std::string group_meta_key(const std::string& account, const std::string& region, const std::string& name) {
  std::string key(kGroupPrefix);
  key += account;
  key += '\0';
  key += region;
  key += '\0';
  key += name;
  return key;
}

std::string stream_meta_key(uint64_t group_id, const std::string& name) {
  std::string key(kStreamPrefix);
  append_u64(key, group_id);
  key += name;
  return key;
}

std::string stream_prefix(uint64_t group_id, uint64_t stream_id) {
  std::string key;
  append_u64(key, group_id);
  append_u64(key, stream_id);
  return key;
}

std::string group_prefix(uint64_t group_id) {
  std::string key;
  append_u64(key, group_id);
  return key;
}

std::string prefix_end(std::string prefix) {
  // The smallest key greater than every key with this prefix.
  while (!prefix.empty()) {
    unsigned char last = static_cast<unsigned char>(prefix.back());
    if (last != 0xFF) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(8, '\xff');
}

AwsError group_not_found() { return AwsError("ResourceNotFoundException", "The specified log group does not exist.", 400); }
AwsError stream_not_found() { return AwsError("ResourceNotFoundException", "The specified log stream does not exist.", 400); }

Value optional_int(const std::optional<int64_t>& v) { return v ? Value(*v) : Value(); }

StoredEvent decode_event(std::string_view key, std::string_view value) {
  StoredEvent e;
  e.stream_id = read_u64(key, 8);
  e.timestamp = unorder_i64(read_u64(key, 16));
  e.sequence = read_u64(key, 24);
  e.ingestion_time = static_cast<int64_t>(read_u64(value, 0));
  e.message.assign(value.substr(8));
  return e;
}

}  // namespace

std::string event_key(uint64_t group_id, uint64_t stream_id, int64_t timestamp, uint64_t sequence) {
  std::string key;
  key.reserve(32);
  append_u64(key, group_id);
  append_u64(key, stream_id);
  append_u64(key, order_i64(timestamp));
  append_u64(key, sequence);
  return key;
}

std::string LogGroup::arn() const { return "arn:aws:logs:" + region + ":" + account + ":log-group:" + name; }

LogStore::LogStore(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

void LogStore::load() {
  std::unique_lock lock(mutex_);
  groups_.clear();
  std::unordered_map<uint64_t, LogGroup*> by_id;
  auto it = store_.iterate(store::Keyspace::Meta, kGroupPrefix, prefix_end(std::string(kGroupPrefix)));
  for (it->seek(kGroupPrefix); it->valid(); it->next()) {
    Value v = protocol::json_to_value(it->value(), nullptr);
    auto group = std::make_unique<LogGroup>();
    group->id = static_cast<uint64_t>(v.i64("id", 0));
    group->account = std::string(v.str("account"));
    group->region = std::string(v.str("region"));
    group->name = std::string(v.str("name"));
    group->creation_time = v.i64("creationTime", 0);
    if (v.has("retentionInDays")) group->retention_in_days = static_cast<int>(v.i64("retentionInDays", 0));
    group->kms_key_id = std::string(v.str("kmsKeyId"));
    group->log_group_class = std::string(v.str("logGroupClass", "STANDARD"));
    group->stored_bytes = v.i64("storedBytes", 0);
    if (const Value* tags = v.get("tags"); tags && tags->is_map())
      for (const auto& [k, t] : tags->as_map()) group->tags[k] = t.is_string() ? t.as_string() : "";
    by_id[group->id] = group.get();
    groups_[{group->account, group->region}][group->name] = std::move(group);
  }
  auto streams = store_.iterate(store::Keyspace::Meta, kStreamPrefix, prefix_end(std::string(kStreamPrefix)));
  for (streams->seek(kStreamPrefix); streams->valid(); streams->next()) {
    Value v = protocol::json_to_value(streams->value(), nullptr);
    auto owner = by_id.find(static_cast<uint64_t>(v.i64("groupId", 0)));
    if (owner == by_id.end()) continue;
    auto stream = std::make_unique<LogStream>();
    stream->id = static_cast<uint64_t>(v.i64("id", 0));
    stream->name = std::string(v.str("name"));
    stream->creation_time = v.i64("creationTime", 0);
    if (v.has("firstEventTimestamp")) stream->first_event_timestamp = v.i64("firstEventTimestamp", 0);
    if (v.has("lastEventTimestamp")) stream->last_event_timestamp = v.i64("lastEventTimestamp", 0);
    if (v.has("lastIngestionTime")) stream->last_ingestion_time = v.i64("lastIngestionTime", 0);
    repair_event_times(*owner->second, *stream);
    owner->second->streams[stream->name] = std::move(stream);
  }
  auto counter = store_.get(store::Keyspace::Meta, kIdCounterKey);
  next_id_ = counter && counter->size() == 8 ? read_u64(*counter) : 1;
  // Sequences must never repeat across restarts: the high bits count boots (durably).
  auto boots = store_.get(store::Keyspace::Meta, kBootCounterKey);
  uint64_t boot = (boots && boots->size() == 8 ? read_u64(*boots) : 0) + 1;
  std::string encoded;
  append_u64(encoded, boot);
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, kBootCounterKey, encoded);
  store_.write(batch);
  next_sequence_ = boot << 40;
}

void LogStore::repair_event_times(const LogGroup& group, LogStream& stream) const {
  // Two seeks: the first and last keys of the stream's range hold its earliest and latest
  // events (keys sort by time).
  auto it = store_.iterate(store::Keyspace::LogEvents, event_key(group.id, stream.id, INT64_MIN, 0), event_key(group.id, stream.id, INT64_MAX, 0));
  it->seek_to_first();
  if (!it->valid()) return;
  stream.first_event_timestamp = unorder_i64(read_u64(it->key(), 16));
  it->seek_to_last();
  if (!it->valid()) return;
  stream.last_event_timestamp = unorder_i64(read_u64(it->key(), 16));
  int64_t ingested = static_cast<int64_t>(read_u64(it->value(), 0));
  stream.last_ingestion_time = std::max(stream.last_ingestion_time.value_or(0), ingested);
}

uint64_t LogStore::allocate_id(store::WriteBatch& batch) {
  uint64_t id = next_id_++;
  std::string encoded;
  append_u64(encoded, next_id_);
  batch.put(store::Keyspace::Meta, kIdCounterKey, encoded);
  return id;
}

void LogStore::persist_group(store::WriteBatch& batch, const LogGroup& group) const {
  Value v = Value::map();
  v.set("id", static_cast<int64_t>(group.id));
  v.set("account", group.account);
  v.set("region", group.region);
  v.set("name", group.name);
  v.set("creationTime", group.creation_time);
  if (group.retention_in_days) v.set("retentionInDays", *group.retention_in_days);
  if (!group.kms_key_id.empty()) v.set("kmsKeyId", group.kms_key_id);
  v.set("logGroupClass", group.log_group_class);
  v.set("storedBytes", group.stored_bytes.load());
  Value tags = Value::map();
  for (const auto& [k, t] : group.tags) tags.set(k, t);
  v.set("tags", std::move(tags));
  batch.put(store::Keyspace::Meta, group_meta_key(group.account, group.region, group.name), protocol::value_to_json(v));
}

void LogStore::persist_stream(store::WriteBatch& batch, const LogGroup& group, const LogStream& stream) const {
  Value v = Value::map();
  v.set("id", static_cast<int64_t>(stream.id));
  v.set("groupId", static_cast<int64_t>(group.id));
  v.set("name", stream.name);
  v.set("creationTime", stream.creation_time);
  v.set("firstEventTimestamp", optional_int(stream.first_event_timestamp));
  v.set("lastEventTimestamp", optional_int(stream.last_event_timestamp));
  v.set("lastIngestionTime", optional_int(stream.last_ingestion_time));
  batch.put(store::Keyspace::Meta, stream_meta_key(group.id, stream.name), protocol::value_to_json(v));
}

LogGroup* LogStore::find_group(const std::string& account, const std::string& region, const std::string& name) const {
  auto it = groups_.find({account, region});
  if (it == groups_.end()) return nullptr;
  auto g = it->second.find(name);
  return g == it->second.end() ? nullptr : g->second.get();
}

LogGroup& LogStore::require_group(const std::string& account, const std::string& region, const std::string& name) const {
  LogGroup* g = find_group(account, region, name);
  if (!g) throw group_not_found();
  return *g;
}

void LogStore::create_group(const std::string& account, const std::string& region, const std::string& name, const std::map<std::string, std::string>& tags,
                            const std::string& kms_key_id, const std::string& log_group_class) {
  std::unique_lock lock(mutex_);
  if (find_group(account, region, name)) throw AwsError("ResourceAlreadyExistsException", "The specified log group already exists", 400);
  auto group = std::make_unique<LogGroup>();
  store::WriteBatch batch(store_);
  group->id = allocate_id(batch);
  group->account = account;
  group->region = region;
  group->name = name;
  group->creation_time = clock_.now_millis();
  group->tags = tags;
  group->kms_key_id = kms_key_id;
  if (!log_group_class.empty()) group->log_group_class = log_group_class;
  persist_group(batch, *group);
  store_.write(batch);
  groups_[{account, region}][name] = std::move(group);
}

void LogStore::delete_group(const std::string& account, const std::string& region, const std::string& name) {
  std::unique_lock lock(mutex_);
  LogGroup& group = require_group(account, region, name);
  store::WriteBatch batch(store_);
  for (const auto& [stream_name, stream] : group.streams) batch.erase(store::Keyspace::Meta, stream_meta_key(group.id, stream_name));
  batch.erase(store::Keyspace::Meta, group_meta_key(account, region, name));
  batch.erase_range(store::Keyspace::LogEvents, group_prefix(group.id), prefix_end(group_prefix(group.id)));
  store_.write(batch);
  groups_[{account, region}].erase(name);
}

void LogStore::create_stream(const std::string& account, const std::string& region, const std::string& group_name, const std::string& name) {
  std::unique_lock lock(mutex_);
  LogGroup& group = require_group(account, region, group_name);
  if (group.streams.count(name)) throw AwsError("ResourceAlreadyExistsException", "The specified log stream already exists", 400);
  auto stream = std::make_unique<LogStream>();
  store::WriteBatch batch(store_);
  stream->id = allocate_id(batch);
  stream->name = name;
  stream->creation_time = clock_.now_millis();
  persist_stream(batch, group, *stream);
  store_.write(batch);
  group.streams[name] = std::move(stream);
}

void LogStore::delete_stream(const std::string& account, const std::string& region, const std::string& group_name, const std::string& name) {
  std::unique_lock lock(mutex_);
  LogGroup& group = require_group(account, region, group_name);
  auto it = group.streams.find(name);
  if (it == group.streams.end()) throw stream_not_found();
  store::WriteBatch batch(store_);
  batch.erase(store::Keyspace::Meta, stream_meta_key(group.id, name));
  std::string prefix = stream_prefix(group.id, it->second->id);
  batch.erase_range(store::Keyspace::LogEvents, prefix, prefix_end(prefix));
  store_.write(batch);
  group.streams.erase(it);
}

void LogStore::set_retention(const std::string& account, const std::string& region, const std::string& group_name, std::optional<int> days) {
  std::unique_lock lock(mutex_);
  LogGroup& group = require_group(account, region, group_name);
  group.retention_in_days = days;
  store::WriteBatch batch(store_);
  persist_group(batch, group);
  store_.write(batch);
}

void LogStore::tag_group(const std::string& account, const std::string& region, const std::string& group_name, const std::map<std::string, std::string>& tags) {
  std::unique_lock lock(mutex_);
  LogGroup& group = require_group(account, region, group_name);
  auto merged = group.tags;
  for (const auto& [k, v] : tags) merged[k] = v;
  if (merged.size() > 50) throw AwsError("TooManyTagsException", "A resource can have no more than 50 tags.", 400);
  group.tags = std::move(merged);
  store::WriteBatch batch(store_);
  persist_group(batch, group);
  store_.write(batch);
}

void LogStore::untag_group(const std::string& account, const std::string& region, const std::string& group_name, const std::vector<std::string>& keys) {
  std::unique_lock lock(mutex_);
  LogGroup& group = require_group(account, region, group_name);
  for (const auto& k : keys) group.tags.erase(k);
  store::WriteBatch batch(store_);
  persist_group(batch, group);
  store_.write(batch);
}

void LogStore::for_each_group(const std::string& account, const std::string& region, const std::string& start, bool skip_start,
                              const std::function<bool(const LogGroup&)>& visit) const {
  std::shared_lock lock(mutex_);
  auto it = groups_.find({account, region});
  if (it == groups_.end()) return;
  auto g = it->second.lower_bound(start);
  if (skip_start && g != it->second.end() && g->first == start) ++g;
  for (; g != it->second.end(); ++g)
    if (!visit(*g->second)) return;
}

void LogStore::with_group(const std::string& account, const std::string& region, const std::string& name,
                          const std::function<void(const LogGroup&)>& fn) const {
  std::shared_lock lock(mutex_);
  fn(require_group(account, region, name));
}

RejectedInfo LogStore::put_events(const std::string& account, const std::string& region, const std::string& group_name, const std::string& stream_name,
                                  const std::vector<InputEvent>& events) {
  // The shared lock keeps the group and stream alive; the stream's own mutex orders writers.
  std::shared_lock lock(mutex_);
  LogGroup& group = require_group(account, region, group_name);
  auto it = group.streams.find(stream_name);
  if (it == group.streams.end()) throw stream_not_found();
  LogStream& stream = *it->second;

  int64_t now = clock_.now_millis();
  RejectedInfo rejected;
  // Events are chronological (checked by the handler): too-old ones, then expired ones, form a
  // prefix and too-new ones a suffix. An event older than both limits counts as too old.
  const int64_t too_old_before = now - kMaxEventAgeMillis;
  const int64_t expired_before = group.retention_in_days ? now - int64_t(*group.retention_in_days) * kDayMillis : INT64_MIN;
  const int64_t too_new_after = now + kMaxEventLeadMillis;
  size_t begin = 0, end = events.size();
  while (begin < end && events[begin].timestamp < too_old_before) ++begin;
  const size_t too_old_end = begin;
  while (begin < end && events[begin].timestamp < expired_before) ++begin;
  while (end > begin && events[end - 1].timestamp > too_new_after) --end;
  if (too_old_end) rejected.too_old_end_index = static_cast<int>(too_old_end);
  if (begin > too_old_end) rejected.expired_end_index = static_cast<int>(begin);
  if (end < events.size()) rejected.too_new_start_index = static_cast<int>(end);
  if (begin >= end) return rejected;
  // AWS: "For valid events (within 14 days in the past to 2 hours in future), the time span
  // in a single batch cannot exceed 24 hours. Otherwise, the operation fails."
  if (events[end - 1].timestamp - events[begin].timestamp > kMaxBatchSpanMillis)
    throw AwsError("InvalidParameterException", "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.", 400);

  // Cost per event: one 32-byte key and one value (8 + message bytes) appended to the batch
  // (a copy of the message), then one memtable insert at write time. The key and value are
  // built in two buffers reused for the whole batch: no allocation per event.
  store::WriteBatch batch(store_);
  uint64_t first_sequence = next_sequence_.fetch_add(end - begin);
  std::string key = event_key(group.id, stream.id, 0, 0);  // same layout as event_key(): 16-byte stream prefix
  constexpr size_t kStreamPrefixBytes = 16;
  std::string value;
  size_t largest = 0;
  for (size_t i = begin; i < end; ++i) largest = std::max(largest, events[i].message.size());
  value.reserve(8 + largest);
  append_u64(value, static_cast<uint64_t>(now));
  int64_t bytes = 0;
  for (size_t i = begin; i < end; ++i) {
    key.resize(kStreamPrefixBytes);
    append_u64(key, order_i64(events[i].timestamp));
    append_u64(key, first_sequence + (i - begin));
    value.resize(8);
    value += events[i].message;
    batch.put(store::Keyspace::LogEvents, key, value);
    bytes += static_cast<int64_t>(events[i].message.size());
  }
  int64_t first = events[begin].timestamp, last = events[end - 1].timestamp;
  // The stream's lock covers its metadata only, not the sync: concurrent writers of one
  // stream (AWS allows them) share one group-committed fsync. Their stream records may then
  // reach the store in either order; load() re-derives the event times from the events.
  std::unique_lock stream_lock(stream.write_mutex);
  stream.first_event_timestamp = stream.first_event_timestamp ? std::min(*stream.first_event_timestamp, first) : first;
  stream.last_event_timestamp = stream.last_event_timestamp ? std::max(*stream.last_event_timestamp, last) : last;
  stream.last_ingestion_time = now;
  persist_stream(batch, group, stream);
  stream_lock.unlock();
  store_.write(batch);
  group.stored_bytes += bytes;
  return rejected;
}

std::vector<StoredEvent> LogStore::read_stream(uint64_t group_id, uint64_t stream_id, int64_t start, int64_t end, const std::optional<StreamPosition>& from,
                                               bool forward, size_t limit, size_t max_bytes) const {
  std::vector<StoredEvent> out;
  if (start >= end || limit == 0) return out;
  std::string lower = event_key(group_id, stream_id, start, 0);
  std::string upper = event_key(group_id, stream_id, end, 0);
  auto it = store_.iterate(store::Keyspace::LogEvents, lower, upper);
  size_t bytes = 0;
  // Takes the event under the iterator unless it would push the page past max_bytes (a page
  // always holds at least one event, so a 1 MB event is still readable).
  auto take = [&]() {
    size_t size = it->value().size() - 8 + kPerEventOverhead;
    if (!out.empty() && bytes + size > max_bytes) return false;
    out.push_back(decode_event(it->key(), it->value()));
    bytes += size;
    return true;
  };
  if (forward) {
    if (from) {
      std::string position = event_key(group_id, stream_id, from->timestamp, from->sequence);
      it->seek(position);
      if (it->valid() && it->key() == position) it->next();
    } else {
      it->seek(lower);
    }
    for (; it->valid() && out.size() < limit && take(); it->next()) {
    }
  } else {
    if (from) {
      std::string position = event_key(group_id, stream_id, from->timestamp, from->sequence);
      it->seek_for_prev(position);
      if (it->valid() && it->key() == position) it->prev();
    } else {
      it->seek_to_last();
    }
    for (; it->valid() && out.size() < limit && take(); it->prev()) {
    }
    std::reverse(out.begin(), out.end());
  }
  return out;
}

void LogStore::scan_streams(uint64_t group_id, const std::vector<uint64_t>& stream_ids, int64_t start, int64_t end,
                            const std::optional<MergePosition>& after, const std::function<bool(const EventView&)>& visit) const {
  if (start >= end) return;
  std::vector<std::unique_ptr<store::Iterator>> cursors;
  cursors.reserve(stream_ids.size());
  // Keys sort by (group, stream, timestamp, sequence): within a stream, "after (t, s)" is a
  // seek to (t, s + 1).
  const bool resume = after && after->timestamp >= start;
  for (uint64_t id : stream_ids) {
    auto it = store_.iterate(store::Keyspace::LogEvents, event_key(group_id, id, start, 0), event_key(group_id, id, end, 0));
    it->seek(resume ? event_key(group_id, id, after->timestamp, after->sequence + 1) : event_key(group_id, id, start, 0));
    if (it->valid()) cursors.push_back(std::move(it));
  }
  auto position_of = [](const store::Iterator& it) {
    std::string_view k = it.key();
    return std::pair<int64_t, uint64_t>(unorder_i64(read_u64(k, 16)), read_u64(k, 24));
  };
  auto view_of = [](const store::Iterator& it) {
    std::string_view key = it.key(), value = it.value();
    return EventView{read_u64(key, 8), unorder_i64(read_u64(key, 16)), read_u64(key, 24), static_cast<int64_t>(read_u64(value, 0)), value.substr(8)};
  };
  if (cursors.size() == 1) {  // one stream: already in order, no merge needed
    for (auto& it = *cursors[0]; it.valid(); it.next())
      if (!visit(view_of(it))) return;
    return;
  }
  auto greater = [&](size_t a, size_t b) { return position_of(*cursors[b]) < position_of(*cursors[a]); };
  std::priority_queue<size_t, std::vector<size_t>, decltype(greater)> heap(greater);
  for (size_t i = 0; i < cursors.size(); ++i) heap.push(i);
  while (!heap.empty()) {
    size_t i = heap.top();
    heap.pop();
    auto& it = *cursors[i];
    if (!visit(view_of(it))) return;
    it.next();
    if (it.valid()) heap.push(i);
  }
}

void LogStore::enforce_retention() {
  int64_t now = clock_.now_millis();
  store::WriteBatch batch(store_);
  {
    std::shared_lock lock(mutex_);
    for (const auto& [key, groups] : groups_) {
      for (const auto& [name, group] : groups) {
        if (!group->retention_in_days) continue;
        int64_t cutoff = now - int64_t(*group->retention_in_days) * kDayMillis;
        for (const auto& [stream_name, stream] : group->streams)
          batch.erase_range(store::Keyspace::LogEvents, event_key(group->id, stream->id, INT64_MIN, 0), event_key(group->id, stream->id, cutoff, 0));
      }
    }
  }
  if (!batch.empty()) store_.write(batch);
}

}  // namespace vigil::logs
