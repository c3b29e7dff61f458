#include "services/cloudtrail/event_history.h"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <optional>
#include <unordered_set>
#include <vector>

#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/json_codec.h"
#include "protocol/schema.h"
#include "services/cloudtrail/record_parameters.h"

namespace vigil::cloudtrail {

namespace {

constexpr int64_t kRetentionMillis = 90LL * 24 * 3600 * 1000;
constexpr size_t kMaxParametersBytes = 100 * 1024;  // larger parameters are omitted, as AWS does
const char* kAttributes[] = {"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"};

std::string scope_prefix(const std::string& account, const std::string& region) {
  std::string key = account;
  key += '\0';
  key += region;
  key += '\0';
  return key;
}

// An index list's key prefix: scope (scope_prefix) | attribute \0 | value \0, into `out`.
void assign_index_prefix(std::string& out, std::string_view scope, std::string_view attribute, std::string_view value) {
  out.assign(scope);
  out += attribute;
  out += '\0';
  out += value;
  out += '\0';
}

std::string index_prefix(const std::string& account, const std::string& region, std::string_view attribute, std::string_view value) {
  std::string key;
  assign_index_prefix(key, scope_prefix(account, region), attribute, value);
  return key;
}

uint64_t inverted(int64_t millis) { return ~order_i64(millis); }

// Index entries are postings (store::WriteBatch::add_posting): the suffixes of the records
// with an attribute value, packed per group write. A pack holds suffixes whose first
// kWindowBytes (the inverted time but its last byte: a 256 ms window) are equal; packs of one
// window may interleave, so a lookup reads a whole window's packs and sorts their suffixes.
constexpr size_t kWindowBytes = 7;

std::string after_prefix(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char c = static_cast<unsigned char>(prefix.back());
    if (c != 0xFF) {
      prefix.back() = static_cast<char>(c + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(8, '\xff');
}

AwsError invalid_token() { return AwsError("InvalidNextTokenException", "Invalid NextToken.", 400); }

// Event ids are v4-shaped UUIDs whose first 12 hex digits are the event's time in epoch
// milliseconds (the rest random). A lookup by EventId then finds the record's key directly
// (scope, time, id) instead of through an index entry: an index key per record with a random
// value was the costliest memtable insert of the recorder (a full skiplist walk each).
std::string time_ordered_event_id(int64_t millis) {
  std::string id = new_uuid();
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t t = static_cast<uint64_t>(millis) & 0xFFFFFFFFFFFFULL;
  for (int i = 11; i >= 0; --i, t >>= 4) id[i < 8 ? i : i + 1] = kHex[t & 0xF];  // skip the dash at 8
  return id;
}

std::optional<int64_t> event_id_millis(std::string_view id) {
  if (id.size() != 36 || id[8] != '-') return std::nullopt;
  int64_t t = 0;
  for (int i = 0; i < 13; ++i) {
    if (i == 8) continue;
    char c = id[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    t = t * 16 + d;
  }
  return t;
}

// One LookupEvents entry from a stored record: its JSON, then one "type\tname" line per resource.
Value lookup_event(const std::string& stored) {
  size_t newline = stored.find('\n');
  std::string json = stored.substr(0, newline);
  Value resources = Value::list();
  for (size_t pos = newline; pos != std::string::npos && pos + 1 < stored.size();) {
    size_t line_end = stored.find('\n', pos + 1);
    std::string line = stored.substr(pos + 1, line_end - pos - 1);
    size_t tab = line.find('\t');
    if (tab != std::string::npos) {
      Value r = Value::map();
      r.set("ResourceType", line.substr(0, tab));
      r.set("ResourceName", line.substr(tab + 1));
      resources.push(std::move(r));
    }
    pos = line_end;
  }
  Value record = protocol::json_to_value(json, nullptr);
  Value e = Value::map();
  if (const Value* details = record.get("insightDetails")) {
    // An Insights event: named after the API it is about; no caller, no read/write flag.
    e.set("EventId", std::string(record.str("eventID")));
    e.set("EventName", std::string(details->str("eventName")));
    e.set("EventTime", Timestamp{parse_iso8601(record.str("eventTime")).value_or(0)});
    e.set("EventSource", std::string(details->str("eventSource")));
    e.set("Resources", Value::list());
    e.set("CloudTrailEvent", std::move(json));
    return e;
  }
  e.set("EventId", std::string(record.str("eventID")));
  e.set("EventName", std::string(record.str("eventName")));
  e.set("ReadOnly", record.flag("readOnly", false) ? "true" : "false");
  const Value* identity = record.get("userIdentity");
  if (identity) {
    e.set("AccessKeyId", std::string(identity->str("accessKeyId")));
    e.set("Username", identity->str("type") == "Root" ? std::string("root") : std::string(identity->str("userName")));
  }
  e.set("EventTime", Timestamp{parse_iso8601(record.str("eventTime")).value_or(0)});
  e.set("EventSource", std::string(record.str("eventSource")));
  e.set("Resources", std::move(resources));
  e.set("CloudTrailEvent", std::move(json));
  return e;
}

}  // namespace

namespace {
// Appends "name": for the record's JSON (names are plain ASCII: no escaping).
void member(std::string& out, std::string_view name) {
  if (out.back() != '{') out += ',';
  out += '"';
  out += name;
  out += "\":";
}
void string_member(std::string& out, std::string_view name, std::string_view value) {
  member(out, name);
  append_json_string(out, value);
}
void bool_member(std::string& out, std::string_view name, bool value) {
  member(out, name);
  out += value ? "true" : "false";
}

// What record_json wrote last on this thread for the caller's identity and for the call's
// origin (region, address, agent), with the inputs it was written from.
struct RenderedParts {
  std::string account_id, user_name, access_key_id;
  bool is_root = false, is_anonymous = false, has_caller = false;
  std::string caller_json;
  std::string region, source_ip, user_agent;
  bool has_origin = false;
  std::string origin_json;

  // Whether caller_json is this principal's; if not, takes its inputs, and the caller rewrites
  // it and then sets has_caller (a rewrite that throws leaves the cache empty, not wrong).
  bool same_caller(const server::Principal& who) {
    if (has_caller && who.account_id == account_id && who.user_name == user_name && who.access_key_id == access_key_id &&
        who.is_root == is_root && who.is_anonymous == is_anonymous)
      return true;
    has_caller = false;
    account_id = who.account_id;
    user_name = who.user_name;
    access_key_id = who.access_key_id;
    is_root = who.is_root;
    is_anonymous = who.is_anonymous;
    return false;
  }
  bool same_origin(const server::CallContext& ctx) {  // the same for origin_json and has_origin
    if (has_origin && ctx.region == region && ctx.source_ip == source_ip && ctx.user_agent == user_agent) return true;
    has_origin = false;
    region = ctx.region;
    source_ip = ctx.source_ip;
    user_agent = ctx.user_agent;
    return false;
  }
};
thread_local RenderedParts t_rendered_parts;
}  // namespace

// The operation whose input and output shapes name the record's requestParameters and
// responseElements in AWS's form (record_parameters.h); nullptr when the service names them
// itself. Looked up once per record (the model's map is keyed by std::string).
const protocol::Operation* audit_operation(const server::ApiCall& call) {
  return call.service->audit_names_from_model() ? call.service->model().operation(call.operation) : nullptr;
}

std::string record_json(const server::ApiCall& call, const std::string& event_id, double event_time, RecordHoles* holes) {
  const server::CallContext& ctx = *call.context;
  const server::Principal& who = *ctx.principal;
  const bool read_only = server::is_read_only_operation(call.operation);
  const bool management = call.service->audit_class(call.operation) == server::AuditClass::Management;
  std::string out;
  out.reserve(1024);
  // Marks the value written by `write` as a hole: it varies from call to call (stored_record).
  auto variable = [&](auto&& write) {
    const size_t at = out.size();
    write();
    if (holes) holes->push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(out.size() - at)});
  };
  auto variable_string = [&](std::string_view name, std::string_view value) {
    member(out, name);
    variable([&] { append_json_string(out, value); });
  };
  // The caller's parts of the record repeat from call to call (most calls come from a few
  // clients): each thread keeps the JSON it last wrote for them and copies it while the inputs
  // are equal (a few string compares instead of escaping ~300 bytes and ten members).
  RenderedParts& parts = t_rendered_parts;
  out += '{';
  string_member(out, "eventVersion", "1.09");
  if (!parts.same_caller(who)) {
    parts.caller_json.clear();
    std::string& json = parts.caller_json;
    json += ",\"userIdentity\":{";  // after eventVersion
    string_member(json, "type", who.identity_type());
    string_member(json, "principalId", who.principal_id());
    if (who.is_anonymous) {
      string_member(json, "accountId", "anonymous");  // as AWS records an unsigned S3 request
    } else {
      string_member(json, "arn", who.arn());
      string_member(json, "accountId", who.account_id);
      string_member(json, "accessKeyId", who.access_key_id);
      if (!who.is_root) string_member(json, "userName", who.user_name);
    }
    json += '}';
    parts.has_caller = true;
  }
  out += parts.caller_json;
  variable_string("eventTime", format_iso8601(std::floor(event_time)));
  string_member(out, "eventSource", call.service->event_source());
  variable_string("eventName", call.operation);
  if (!parts.same_origin(ctx)) {
    parts.origin_json.clear();
    std::string& json = parts.origin_json;
    json += '"';  // after eventName's value: member() adds the comma
    string_member(json, "awsRegion", ctx.region);
    string_member(json, "sourceIPAddress", ctx.source_ip);
    string_member(json, "userAgent", ctx.user_agent);
    json.erase(0, 1);
    parts.has_origin = true;
  }
  out += parts.origin_json;
  if (call.error) {
    variable_string("errorCode", call.error->code());
    variable_string("errorMessage", call.error->message());
  }
  const protocol::Operation* op = (call.input || call.output) ? audit_operation(call) : nullptr;
  member(out, "requestParameters");
  variable([&] {
    if (call.input && !(call.input->is_map() && call.input->size() == 0)) {
      const size_t at = out.size();
      thread_local Value scratch;  // what a service keeps of the input, when it leaves some out
      append_record_parameters(call.service->audit_parameters(call.operation, *call.input, scratch), op ? op->input : nullptr, out);
      if (out.size() - at > kMaxParametersBytes) {  // omitted, as AWS does
        out.resize(at);
        out += "null";
      }
    } else {
      out += "null";
    }
  });
  member(out, "responseElements");
  variable([&] {
    if (call.output && !read_only && call.output->is_map() && call.output->size() > 0 && call.service->audit_response(call.operation)) {
      thread_local Value scratch;
      const Value& elements = call.service->audit_elements(call.operation, *call.output, scratch);
      if (elements.is_map() && elements.size() > 0) append_record_parameters(elements, op ? op->output : nullptr, out);
      else out += "null";
    } else {
      out += "null";
    }
  });
  variable_string("requestID", ctx.request_id);
  variable_string("eventID", event_id);
  member(out, "readOnly");
  variable([&] { out += read_only ? "true" : "false"; });
  if (!management && !ctx.resources.empty()) {
    if (holes) holes->clear();  // a data event: never stored, no template
    holes = nullptr;
    member(out, "resources");
    out += '[';
    for (const auto& [type, name] : ctx.resources) {
      if (out.back() != '[') out += ',';
      out += '{';
      string_member(out, "accountId", ctx.account_id);
      string_member(out, "type", type);
      // A plain name is made an ARN of the call's service; S3's carry neither region nor
      // account (arn:aws:s3:::bucket), as in AWS's records.
      const std::string& service = call.service->model().endpoint_prefix;
      string_member(out, "ARN", name.rfind("arn:", 0) == 0 ? name
                                : service == "s3" ? "arn:aws:s3:::" + name
                                                  : "arn:aws:" + service + ":" + ctx.region + ":" + ctx.account_id + ":" + name);
      out += '}';
    }
    out += ']';
  }
  string_member(out, "eventType", "AwsApiCall");
  bool_member(out, "managementEvent", management);
  string_member(out, "recipientAccountId", ctx.account_id);
  string_member(out, "eventCategory", management ? "Management" : "Data");
  out += '}';
  return out;
}

Value make_record(const server::ApiCall& call, const std::string& event_id, double event_time) {
  return protocol::json_to_value(record_json(call, event_id, event_time, nullptr), nullptr);
}

const Value& call_record(const BusEvent& event, Value& parsed) {
  if (!event.detail.is_null() || event.detail_json.empty()) return event.detail;
  parsed = protocol::json_to_value(event.detail_json, nullptr);
  return parsed;
}

// Stored records and their templates. Most of a record's JSON is the same for every call of a
// caller from one address and agent to one service (identity, agent, region, member names: some
// 500 of its ~650 bytes), so the store keeps that part once, as a template, and each record keeps
// only its own values (the holes record_json marks), about 150 bytes. Every byte a record does
// not have is a byte the WAL, the memtable, flushes and compactions do not copy, checksum and
// compress. Values:
//   record (current):  kRecordMark, template id (8), per hole: length (LEB128) + bytes; then '\n'
//   record (older):    the record's JSON, then '\n'
//   either:            then one "type\tname\n" line per resource
//   template:          kTemplateMark, per segment around the holes: length (LEB128) + bytes
// A template's key sorts among its day's records (scope, inverted end of the UTC day, 'T', id,
// padding to an event id's length), so it expires with the last of them and expire() needs no
// special case; scans of records skip it (is_template_suffix). It is written in the batch of
// the first record of its day that a thread records with it (thread_local cache below), so it
// is durable no later than any record using it; an id whose key holds another template (a hash
// collision) makes the record keep its whole JSON.
namespace {
constexpr char kRecordMark = '\x01';
constexpr char kTemplateMark = '\x02';
constexpr int64_t kDayMillis = 24LL * 3600 * 1000;
constexpr size_t kMaxCachedTemplates = 4096;  // per thread; the cache restarts when full

bool is_template_suffix(std::string_view suffix) { return suffix.size() == 8 + 36 && suffix[8] == 'T'; }

std::string template_key(const std::string& scope, int64_t millis, uint64_t id) {
  std::string key = scope;
  const int64_t day_end = (millis >= 0 ? millis / kDayMillis : (millis - kDayMillis + 1) / kDayMillis) * kDayMillis + kDayMillis - 1;
  append_u64(key, inverted(day_end));
  key += 'T';
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) key += kHex[(id >> shift) & 0xF];
  key.append(36 - 17, '0');
  return key;
}

std::optional<std::string_view> read_chunk(std::string_view in, size_t& pos) {
  uint64_t length = 0;
  if (!read_varint(in, pos, length) || length > in.size() - pos) return std::nullopt;
  std::string_view chunk = in.substr(pos, length);
  pos += length;
  return chunk;
}

// Which templates this thread has seen written, for which history (an instance id and its
// reset epoch) and day. Thread-local: recording takes no lock for it.
struct TemplateCache {
  uint64_t owner = 0;
  int64_t day = -1;
  std::unordered_set<uint64_t> written;
};
thread_local TemplateCache t_templates;
std::atomic<uint64_t> g_history_instances{0};
}  // namespace

std::string EventHistory::stored_record(const std::string& scope, int64_t millis, const std::string& json, const RecordHoles& holes,
                                        store::WriteBatch& batch) {
  if (holes.empty()) return json;
  // The template's id: a hash of its segments (the JSON between the holes), computed in place;
  // the template itself is built only when this thread has not written it yet (a ~500-byte
  // copy and allocation per call saved).
  const std::string_view text(json);
  uint64_t id = 0x9e3779b97f4a7c15ULL;
  auto mix = [&](std::string_view segment) {
    const uint64_t h = std::hash<std::string_view>{}(segment) ^ (segment.size() * 0xff51afd7ed558ccdULL);
    id ^= h + 0x9e3779b97f4a7c15ULL + (id << 6) + (id >> 2);
  };
  size_t at = 0;
  for (const auto& [offset, length] : holes) {
    mix(text.substr(at, offset - at));
    at = offset + length;
  }
  mix(text.substr(at));

  const uint64_t owner = (instance_ << 32) | epoch_.load(std::memory_order_acquire);
  const int64_t day = millis / kDayMillis;
  TemplateCache& cache = t_templates;
  if (cache.owner != owner || cache.day != day || cache.written.size() >= kMaxCachedTemplates) {
    cache.owner = owner;
    cache.day = day;
    cache.written.clear();
  }
  if (!cache.written.count(id)) {
    std::string shape(1, kTemplateMark);
    at = 0;
    for (const auto& [offset, length] : holes) {
      append_varint(shape, offset - at);
      shape.append(json, at, offset - at);
      at = offset + length;
    }
    append_varint(shape, json.size() - at);
    shape.append(json, at, std::string::npos);
    const std::string key = template_key(scope, millis, id);
    auto existing = store_.get(store::Keyspace::Audit, key);
    if (existing && *existing != shape) return json;  // another template has this id: keep the whole record
    if (!existing) batch.put(store::Keyspace::Audit, key, shape);
    cache.written.insert(id);
  }
  std::string stored(1, kRecordMark);
  stored.reserve(16 + holes.size() * 2 + 160);
  append_u64(stored, id);
  for (const auto& [offset, length] : holes) {
    append_varint(stored, length);
    stored.append(json, offset, length);
  }
  return stored;
}

std::optional<std::string> EventHistory::stored_json(const std::string& scope, std::string_view suffix, std::string_view stored,
                                                     TemplateReads& templates) const {
  if (stored.empty() || stored[0] != kRecordMark) return std::string(stored);  // the older layout: the JSON itself
  if (stored.size() < 9 || suffix.size() < 8) return std::nullopt;
  const uint64_t id = read_u64(stored, 1);
  const int64_t record_millis = unorder_i64(~read_u64(suffix));
  std::string key = template_key(scope, record_millis, id);
  auto found = templates.find(key);
  if (found == templates.end()) found = templates.emplace(key, store_.get(store::Keyspace::Audit, key)).first;
  if (!found->second) return std::nullopt;  // lost with a reset that raced its record
  std::string_view shape = *found->second;
  size_t tpos = 1, rpos = 9;
  std::string json;
  json.reserve(shape.size() + stored.size());
  for (bool first = true;; first = false) {
    if (!first) {
      auto hole = read_chunk(stored, rpos);
      if (!hole) return std::nullopt;
      json += *hole;
    }
    auto segment = read_chunk(shape, tpos);
    if (!segment) return std::nullopt;
    json += *segment;
    if (tpos == shape.size()) break;
  }
  if (rpos == stored.size() || stored[rpos] != '\n') return std::nullopt;  // not this template's holes
  json += stored.substr(rpos);  // '\n' and the resource lines
  return json;
}

EventHistory::EventHistory(store::Store& store, const Clock& clock, EventBus* bus)
    : store_(store), clock_(clock), bus_(bus), instance_(++g_history_instances) {}

void EventHistory::record(const server::ApiCall& call) {
  server::AuditClass audit_class = call.service->audit_class(call.operation);
  if (audit_class == server::AuditClass::NotRecorded) return;
  // An anonymous request that named no existing resource belongs to no account: no one's trail.
  if (call.context->account_id.empty()) return;
  // Data events (every PutLogEvents) only go to the bus: skip building a record nobody reads.
  const server::CallContext& ctx = *call.context;
  if (audit_class == server::AuditClass::Data &&
      (!bus_ || !bus_->has_subscribers() || (data_events_wanted_ && !data_events_wanted_(ctx.account_id))))
    return;
  int64_t millis = static_cast<int64_t>(ctx.time * 1000);
  std::string event_id = time_ordered_event_id(millis);
  RecordHoles holes;
  std::string json = record_json(call, event_id, ctx.time, audit_class == server::AuditClass::Management ? &holes : nullptr);

  if (bus_ && bus_->has_subscribers()) {
    // One event per thread, reused: assign() keeps the strings' buffers, so publishing
    // allocates nothing per call (the subscribers only read it; detail stays null). A
    // subscriber that records a call in turn gets an event of its own.
    thread_local BusEvent reused;
    thread_local bool publishing = false;
    std::optional<BusEvent> nested;  // built only in that rare case, not on every call
    BusEvent& event = publishing ? nested.emplace() : reused;
    const bool outer = !publishing;
    publishing = true;
    struct Done {
      bool outer;
      ~Done() { if (outer) publishing = false; }
    } done{outer};
    const std::string& source = call.service->event_source();
    event.source.assign("aws.").append(source, 0, source.find('.'));
    event.detail_type.assign("AWS API Call via CloudTrail");
    event.account.assign(ctx.account_id);
    event.region.assign(ctx.region);
    event.time = ctx.time;
    event.resources.clear();
    event.detail_json = std::move(json);
    bus_->publish(event);
    json = std::move(event.detail_json);
  }
  // LookupEvents shows management events only; data events reach trails through the bus.
  if (audit_class != server::AuditClass::Management) return;

  std::string suffix;
  append_u64(suffix, inverted(millis));
  suffix += event_id;
  const std::string scope = scope_prefix(ctx.account_id, ctx.region);
  // One batch per thread, reused: write(Deferred) empties it and keeps its buffers, so a call
  // allocates none of them (the batch is bound to this store; a store at the same address
  // later is harmless, as the batch is empty between calls).
  thread_local std::unique_ptr<store::WriteBatch> t_batch;
  if (!t_batch || !t_batch->empty() || &t_batch->store() != &store_) t_batch = std::make_unique<store::WriteBatch>(store_, /*deferred=*/true);
  store::WriteBatch& batch = *t_batch;
  std::string stored = stored_record(scope, millis, json, holes, batch);
  // Then one "type\tname" line per resource for LookupEvents' Resources.
  stored += '\n';
  for (const auto& [type, name] : ctx.resources) {
    stored += type;
    stored += '\t';
    stored += name;
    stored += '\n';
  }
  batch.put(store::Keyspace::Audit, scope + suffix, stored);
  thread_local std::string t_list;  // index_prefix's bytes, built in place (no allocation per entry)
  auto index = [&](std::string_view attribute, std::string_view value) {
    if (value.empty()) return;
    assign_index_prefix(t_list, scope, attribute, value);
    batch.add_posting(store::Keyspace::AuditIndex, t_list, suffix, kWindowBytes);
  };
  index("EventName", call.operation);
  index("ReadOnly", server::is_read_only_operation(call.operation) ? "true" : "false");
  index("Username", ctx.principal->user_name);
  index("EventSource", call.service->event_source());
  index("AccessKeyId", ctx.principal->access_key_id);
  for (const auto& [type, name] : ctx.resources) {
    index("ResourceType", type);
    index("ResourceName", name);
  }
  // A read-only call's record is queued for the store's background writer (one RocksDB write
  // per group of records, no hand-off per call): its answer does not wait, and a kill -9 may
  // lose the last queued records of reads. A mutating call's record is in the WAL before its
  // answer, like the change it describes (its wait rides on the same group write).
  store_.write(batch, store::Durability::Deferred);
  if (!server::is_read_only_operation(call.operation)) store_.wait_for_deferred();
}

namespace {
std::string insight_scope(const std::string& region) { return region + "/insight"; }

// Where an Insights record is kept: its (inverted) time and id, as record_insight builds them.
std::optional<std::string> insight_suffix(const Value& record, std::optional<double> fallback_time) {
  std::string_view event_id = record.str("eventID");
  std::optional<double> time = parse_iso8601(record.str("eventTime"));
  if (!time) time = fallback_time;
  if (event_id.empty() || !time) return std::nullopt;
  std::string suffix;
  append_u64(suffix, inverted(static_cast<int64_t>(std::llround(*time * 1000))));
  suffix += event_id;
  return suffix;
}

constexpr std::string_view kTrailAttribute = "Trail";  // not a LookupEvents attribute: never mixed
}  // namespace

void EventHistory::record_insight(const std::string& account, const std::string& region, const Value& record) {
  std::string event_id(record.str("eventID"));
  const Value* details = record.get("insightDetails");
  if (event_id.empty() || !details) return;
  std::string scope = insight_scope(region);
  std::string suffix = *insight_suffix(record, clock_.now_seconds());
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Audit, scope_prefix(account, scope) + suffix, protocol::value_to_json(record, nullptr, /*keep_nulls=*/true) + "\n");
  auto index = [&](std::string_view attribute, std::string_view value) {
    if (!value.empty()) batch.put(store::Keyspace::AuditIndex, index_prefix(account, scope, attribute, value) + suffix, {});
  };
  index("EventId", event_id);
  index("EventName", details->str("eventName"));
  index("EventSource", details->str("eventSource"));
  store_.write(batch);
}


std::string insight_trail_key(const std::string& account, const std::string& region, const std::string& trail, const Value& record) {
  auto suffix = insight_suffix(record, std::nullopt);
  if (!suffix || trail.empty()) return {};
  return index_prefix(account, insight_scope(region), kTrailAttribute, trail) + *suffix;
}

Value EventHistory::list_insights_data(const std::string& account, const std::string& region, const std::string& trail,
                                       const Value& input) const {
  auto invalid = [](const std::string& message) { return AwsError("InvalidParameterException", message, 400); };
  // The model checks these too (required, enum, map size, range); unit callers skip the model.
  if (input.str("DataType") != "InsightsEvents") throw invalid("DataType must be InsightsEvents.");
  std::string dimension, wanted;
  if (const Value* dims = input.get("Dimensions"); dims && !dims->is_null()) {
    if (!dims->is_map() || dims->size() != 1) throw invalid("Dimensions must contain exactly one item.");
    const auto& [key, v] = dims->as_map().front();
    if (key != "EventId" && key != "EventName" && key != "EventSource")
      throw invalid("Dimension " + key + " is not valid. Valid dimensions are EventId, EventName and EventSource.");
    if (!v.is_string() || v.as_string().empty()) throw invalid("The value of dimension " + key + " cannot be empty.");
    dimension = key;
    wanted = v.as_string();
  }
  int64_t now = clock_.now_millis();
  auto millis = [&](std::string_view member, int64_t fallback) {
    const Value* v = input.get(member);
    return v && (v->kind() == Value::Kind::Timestamp || v->kind() == Value::Kind::Double || v->kind() == Value::Kind::Int)
               ? static_cast<int64_t>(std::floor(v->as_double() * 1000))
               : fallback;
  };
  const int64_t start = millis("StartTime", now - kRetentionMillis), end = millis("EndTime", now);
  if (start > end) throw invalid("StartTime must be before or equal to EndTime.");
  const int64_t max_results = input.i64("MaxResults", 50);
  if (max_results < 1 || max_results > 50) throw invalid("MaxResults must be between 1 and 50.");

  // A NextToken is only good with the parameters that produced it (AWS: "must be passed in
  // with the same parameters"): it carries a hash of them before the last event's suffix.
  std::string binding;
  {
    uint64_t h = 1469598103934665603ULL;  // FNV-1a over the parameters as given
    auto mix = [&](std::string_view part) {
      for (unsigned char c : part) h = (h ^ c) * 1099511628211ULL;
      h = (h ^ 0xFF) * 1099511628211ULL;  // separator
    };
    mix(account);
    mix(region);
    mix(trail);
    mix(dimension);
    mix(wanted);
    mix(input.has("StartTime") ? std::to_string(start) : "");
    mix(input.has("EndTime") ? std::to_string(end) : "");
    append_u64(binding, h);
  }
  std::optional<std::string> after;  // the suffix of the last event of the previous page
  if (input.has("NextToken")) {
    auto token = base64_decode(input.str("NextToken"));
    if (!token || token->size() <= binding.size() + 8 || token->compare(0, binding.size(), binding) != 0)
      throw invalid("NextToken is not valid for these parameters.");
    after = token->substr(binding.size());
  }

  // Insights records and their entries are written synchronously (record_insight, on_insight):
  // no deferred writes to wait for.
  const std::string scope = insight_scope(region);
  const std::string records = scope_prefix(account, scope);
  const std::string trail_prefix = index_prefix(account, scope, kTrailAttribute, trail);
  std::string newest, oldest_bound;  // suffixes: the newest allowed, the first past the oldest allowed
  append_u64(newest, inverted(end));
  append_u64(oldest_bound, inverted(start) + 1);

  Value events = Value::list();
  Value out = Value::map();
  // The record of a suffix, when the trail took it and the dimension matches.
  auto matching = [&](std::string_view suffix, bool trail_checked) -> std::optional<std::string> {
    if (!trail_checked && !store_.get(store::Keyspace::AuditIndex, trail_prefix + std::string(suffix))) return std::nullopt;
    auto stored = store_.get(store::Keyspace::Audit, records + std::string(suffix));
    if (!stored) return std::nullopt;  // expired since it was indexed
    return stored;
  };

  // No dimension: the trail's own entries. A dimension: that attribute's entries of the region's
  // Insights events (record_insight; Insights event ids are random, so EventId too), each
  // checked against the trail with one point read. Both are newest first; a page stops one
  // matching entry after it is full.
  const bool by_trail = dimension.empty();
  const std::string prefix = by_trail ? trail_prefix : index_prefix(account, scope, dimension, wanted);
  std::string from = prefix + (after ? *after : newest);
  auto it = store_.iterate(store::Keyspace::AuditIndex, from, prefix + oldest_bound);
  std::string last_suffix;
  bool more = false;
  for (it->seek(from); it->valid(); it->next()) {
    std::string_view suffix = it->key().substr(prefix.size());
    if (suffix.size() <= 8 || (after && suffix <= *after)) continue;
    auto stored = matching(suffix, by_trail);
    if (!stored) continue;
    if (static_cast<int64_t>(events.size()) == max_results) {
      more = true;
      break;
    }
    last_suffix = std::string(suffix);
    events.push(lookup_event(*stored));
  }
  out.set("Events", std::move(events));
  if (more) out.set("NextToken", base64_encode(binding + last_suffix));
  return out;
}

Value EventHistory::lookup(const std::string& account, const std::string& region, const Value& input) const {
  std::string attribute, value;
  if (const Value* attrs = input.get("LookupAttributes"); attrs && attrs->is_list()) {
    if (attrs->size() > 1) throw AwsError("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.", 400);
    if (attrs->size() == 1) {
      const Value& a = attrs->as_list()[0];
      attribute = std::string(a.str("AttributeKey"));
      value = std::string(a.str("AttributeValue"));
      bool known = false;
      for (const char* k : kAttributes) known = known || attribute == k;
      if (!known) throw AwsError("InvalidLookupAttributesException", "Lookup attribute key " + attribute + " is not valid.", 400);
    }
  }
  if (input.has("EventCategory") && input.str("EventCategory") != "insight")
    throw AwsError("InvalidEventCategoryException", "Event category is not valid.", 400);
  int64_t now = clock_.now_millis();
  int64_t start = input.has("StartTime") ? static_cast<int64_t>(input.get("StartTime")->as_double() * 1000) : now - kRetentionMillis;
  int64_t end = input.has("EndTime") ? static_cast<int64_t>(input.get("EndTime")->as_double() * 1000) : now;
  if (start > end) throw AwsError("InvalidTimeRangeException", "Start time must be less than or equal to end time.", 400);
  int64_t max_results = input.i64("MaxResults", 50);
  if (max_results < 1 || max_results > 50) throw AwsError("InvalidMaxResultsException", "Max results must be between 1 and 50.", 400);

  // The caller's own read-only calls just before may still be queued (Durability::Deferred).
  store_.wait_for_deferred();
  Value events = Value::list();
  Value out = Value::map();
  // Insights events live in their own scope (record_insight).
  const bool insight = input.str("EventCategory") == "insight";
  const std::string scope = insight ? insight_scope(region) : region;

  // A time-ordered event id leads straight to its record. Ids without a record there (given
  // by an older version, which kept an EventId index) take the index scan below.
  if (attribute == "EventId" && !input.has("NextToken")) {
    if (auto millis = event_id_millis(value); millis && *millis >= start && *millis <= end) {
      std::string key = scope_prefix(account, scope);
      append_u64(key, inverted(*millis));
      key += value;
      TemplateReads templates;
      auto stored = store_.get(store::Keyspace::Audit, key);
      if (auto json = stored ? stored_json(scope_prefix(account, scope), std::string_view(key).substr(key.size() - 8 - 36), *stored, templates) : std::nullopt) {
        events.push(lookup_event(*json));
        out.set("Events", std::move(events));
        return out;
      }
    }
  }
  std::string token(input.str("NextToken"));
  std::optional<std::string> after;  // the suffix of the last event of the previous page
  if (!token.empty()) {
    after = base64_decode(token);
    if (!after || after->size() < 8) throw invalid_token();
  }
  std::string newest, oldest_bound;  // suffixes: newest allowed, first one past the oldest allowed
  append_u64(newest, inverted(end));
  append_u64(oldest_bound, inverted(start) + 1);
  std::string last_suffix;
  bool more = false;
  const std::string records = scope_prefix(account, scope);
  TemplateReads templates;
  // Adds the record with this suffix, if it is in range; false once the page is full.
  auto take = [&](std::string_view suffix, const std::string* stored) {
    if (suffix < newest || suffix >= oldest_bound || (after && suffix <= *after) || is_template_suffix(suffix)) return true;
    if (static_cast<int64_t>(events.size()) == max_results) {
      more = true;
      return false;
    }
    std::optional<std::string> found;
    if (!stored) {
      found = store_.get(store::Keyspace::Audit, records + std::string(suffix));
      if (!found) return true;  // expired since it was indexed
      stored = &*found;
    }
    auto json = stored_json(records, suffix, *stored, templates);
    if (!json) return true;  // its template went with a reset that raced it
    last_suffix = std::string(suffix);
    events.push(lookup_event(*json));
    return true;
  };
  const std::string& from = after ? *after : newest;
  if (attribute.empty()) {
    // The records themselves, newest first.
    const std::string& prefix = records;
    auto it = store_.iterate(store::Keyspace::Audit, prefix + from, prefix + oldest_bound);
    for (it->seek(prefix + from); it->valid(); it->next()) {
      std::string stored(it->value());
      if (!take(it->key().substr(prefix.size()), &stored)) break;
    }
  } else {
    // The attribute's postings, a window at a time (see kWindowBytes). Packs written by older
    // versions have an empty value: one suffix, the key's own.
    std::string prefix = index_prefix(account, scope, attribute, value);
    std::string first = prefix + from.substr(0, kWindowBytes);
    auto it = store_.iterate(store::Keyspace::AuditIndex, first, prefix + oldest_bound);
    std::vector<std::string_view> items;
    std::vector<std::string> window;
    bool full = false;
    it->seek(first);
    while (!full && it->valid()) {
      window.clear();
      const std::string window_key(it->key().substr(prefix.size(), kWindowBytes));
      for (; it->valid() && it->key().substr(prefix.size(), kWindowBytes) == window_key; it->next()) {
        if (it->value().empty()) {
          window.emplace_back(it->key().substr(prefix.size()));
        } else if (store::decode_pack(it->value(), items)) {
          for (std::string_view item : items) window.emplace_back(item);
        }
      }
      std::sort(window.begin(), window.end());
      for (const std::string& suffix : window)
        if (!take(suffix, nullptr)) {
          full = true;
          break;
        }
    }
  }
  out.set("Events", std::move(events));
  if (more) out.set("NextToken", base64_encode(last_suffix));
  return out;
}

void EventHistory::expire() {
  int64_t cutoff = clock_.now_millis() - kRetentionMillis;
  store::WriteBatch batch(store_);
  // Jump from one account/region (or index value) range to the next: one seek per range.
  for (store::Keyspace space : {store::Keyspace::Audit, store::Keyspace::AuditIndex}) {
    auto it = store_.iterate(space);
    it->seek_to_first();
    while (it->valid()) {
      std::string_view key = it->key();
      // The time-ordered part starts 8 + 36 bytes before the end of every key.
      if (key.size() < 44) {
        it->next();
        continue;
      }
      std::string prefix(key.substr(0, key.size() - 44));
      std::string from = prefix;
      append_u64(from, inverted(cutoff));
      batch.erase_range(space, from, after_prefix(prefix));
      it->seek(after_prefix(prefix));
    }
  }
  if (!batch.empty()) store_.write(batch);
}

}  // namespace vigil::cloudtrail
