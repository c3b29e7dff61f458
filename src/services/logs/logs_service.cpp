#include "services/logs/logs_service.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <thread>

#include "core/arn.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/schema.h"
#include "services/logs/filter_pattern.h"
#include "services/logs/put_log_events_decoder.h"

namespace vigil::logs {

namespace {

using server::CallContext;

constexpr size_t kMaxBatchBytes = 1'048'576;
constexpr size_t kPerEventOverhead = 26;
constexpr size_t kMaxEventBytes = 1'048'576;  // AWS: "Each log event can be no larger than 1 MB" (message + 26)
constexpr size_t kMaxResponseBytes = 1'048'576;
// FilterLogEvents stops after scanning this many events and answers what matched so far with
// a nextToken, so a rare pattern never makes one request scan a whole large group (AWS too
// returns partial or empty pages with a nextToken).
constexpr size_t kMaxScannedEvents = 2'000'000;  // per request; then a page with nextToken, as AWS does
constexpr int kRetentionDays[] = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

AwsError invalid(const std::string& message) { return AwsError("InvalidParameterException", message, 400); }
AwsError invalid_token() { return invalid("The specified nextToken is invalid."); }
AwsError group_not_found() { return AwsError("ResourceNotFoundException", "The specified log group does not exist.", 400); }

std::map<std::string, std::string> tags_of(const Value* v) {
  std::map<std::string, std::string> tags;
  if (v && v->is_map())
    for (const auto& [k, t] : v->as_map()) tags[k] = t.is_string() ? t.as_string() : "";
  return tags;
}

std::vector<std::string> strings_of(const Value* v) {
  std::vector<std::string> out;
  if (v && v->is_list())
    for (const auto& item : v->as_list())
      if (item.is_string()) out.push_back(item.as_string());
  return out;
}

Value tags_value(const std::map<std::string, std::string>& tags) {
  Value v = Value::map();
  for (const auto& [k, t] : tags) v.set(k, t);
  return v;
}

// A log group named directly or by ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]).
struct GroupRef {
  std::string account, region, name;
};

std::optional<GroupRef> parse_group_arn(const std::string& arn) {
  // arn:PARTITION:logs:REGION:ACCOUNT:log-group:NAME[:*]
  constexpr std::string_view kLogGroup = "log-group:";
  auto parts = split_arn(arn);
  if (!parts || parts->service != "logs" || parts->resource.rfind(kLogGroup, 0) != 0) return std::nullopt;
  std::string name(parts->resource.substr(kLogGroup.size()));
  if (name.size() >= 2 && name.compare(name.size() - 2, 2, ":*") == 0) name.resize(name.size() - 2);
  if (name.empty()) return std::nullopt;
  return GroupRef{std::string(parts->account), std::string(parts->region), name};
}

GroupRef group_ref(const CallContext& ctx, const Value& in) {
  std::string_view name = in.str("logGroupName");
  std::string_view identifier = in.str("logGroupIdentifier");
  if (!name.empty() && !identifier.empty()) throw invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.");
  if (!identifier.empty()) {
    if (identifier.substr(0, 4) == "arn:") {
      auto ref = parse_group_arn(std::string(identifier));
      if (!ref) throw invalid("Invalid log group ARN: " + std::string(identifier));
      // Another account's or region's group is invisible here (no cross-account observability).
      if (ref->account != ctx.account_id || ref->region != ctx.region) throw group_not_found();
      return *ref;
    }
    return {ctx.account_id, ctx.region, std::string(identifier)};
  }
  if (name.empty()) throw invalid("Either logGroupName or logGroupIdentifier must be specified.");
  return {ctx.account_id, ctx.region, std::string(name)};
}

// Opaque pagination tokens: base64 of a position, so clients cannot depend on their shape.
std::string make_token(std::string_view position) { return base64_encode(position); }
std::string read_token(const Value& in, std::string_view member = "nextToken") {
  std::string_view token = in.str(member);
  if (token.empty()) return {};
  auto decoded = base64_decode(token);
  if (!decoded || decoded->empty()) throw invalid_token();
  return *decoded;
}

Value group_description(const LogGroup& g, bool name_pattern) {
  Value v = Value::map();
  v.set("logGroupName", g.name);
  v.set("creationTime", g.creation_time);
  v.set("arn", g.arn() + ":*");
  // AWS: "If you specify logGroupNamePattern in your request, then only arn, creationTime,
  // and logGroupName are included in the response."
  if (name_pattern) return v;
  if (g.retention_in_days) v.set("retentionInDays", *g.retention_in_days);
  v.set("metricFilterCount", 0);
  v.set("storedBytes", g.stored_bytes.load());
  if (!g.kms_key_id.empty()) v.set("kmsKeyId", g.kms_key_id);
  v.set("logGroupClass", g.log_group_class);
  v.set("logGroupArn", g.arn());
  return v;
}

// ListLogGroups' logGroupNamePattern: up to five alternatives separated by '|', each a
// case-sensitive substring, or a prefix when it starts with '^' ("^/aws/lambda|discovery").
bool matches_name_pattern(std::string_view name, std::string_view pattern) {
  size_t start = 0;
  while (start <= pattern.size()) {
    size_t bar = pattern.find('|', start);
    std::string_view alt = pattern.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    if (!alt.empty() && alt.front() == '^') {
      if (name.substr(0, alt.size() - 1) == alt.substr(1)) return true;
    } else if (name.find(alt) != std::string_view::npos) {
      return true;
    }
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return false;
}

// GetLogEvents tokens look like AWS's: "f/" or "b/", 56 digits, "/s". The digits are the
// position (ordered timestamp, sequence); a forward token reads events strictly after it, a
// backward token events strictly before it.
std::string position_token(char direction, int64_t timestamp, uint64_t sequence) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%c/%020llu%020llu%016d/s", direction, static_cast<unsigned long long>(order_i64(timestamp)),
                static_cast<unsigned long long>(sequence), 0);
  return buf;
}

std::optional<StreamPosition> parse_position_token(std::string_view token, char* direction) {
  if (token.size() != 60 || (token[0] != 'f' && token[0] != 'b') || token[1] != '/' || token.substr(58) != "/s") return std::nullopt;
  auto digits = [](std::string_view d, uint64_t& out) {
    out = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
      uint64_t next = out * 10 + static_cast<uint64_t>(c - '0');
      if (next / 10 != out) return false;  // overflow
      out = next;
    }
    return true;
  };
  uint64_t t, s, pad;
  if (!digits(token.substr(2, 20), t) || !digits(token.substr(22, 20), s) || !digits(token.substr(42, 16), pad) || pad != 0) return std::nullopt;
  *direction = token[0];
  return StreamPosition{unorder_i64(t), s};
}

Value event_value(const StoredEvent& e) {
  Value v = Value::map();
  v.set("timestamp", e.timestamp);
  v.set("message", e.message);
  v.set("ingestionTime", e.ingestion_time);
  return v;
}

// AWS event ids are 56-digit strings; ours encode the event's position, so the same event
// always has the same id (aws logs tail --follow de-duplicates by it).
template <typename Event>
std::string event_id(const Event& e) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%020llu%020llu%016llu", static_cast<unsigned long long>(order_i64(e.timestamp)),
                static_cast<unsigned long long>(e.sequence), static_cast<unsigned long long>(e.stream_id % 10'000'000'000'000'000ULL));
  return buf;
}

std::string sequence_token(uint64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "49%054llu", static_cast<unsigned long long>(n));
  return buf;
}

std::shared_ptr<const FilterPattern> compile_pattern(std::string_view pattern) {
  std::string error;
  auto compiled = FilterPattern::compile(pattern, &error);
  if (!compiled) throw invalid(error.empty() ? "Invalid filter pattern" : error);
  return compiled;
}

}  // namespace

LogsService::LogsService(LogStore& store, const Clock& clock, int64_t parallel_scan_min_bytes)
    : Service(*protocol::embedded_model("logs")), store_(store), clock_(clock), parallel_scan_min_bytes_(parallel_scan_min_bytes) {
  on("CreateLogGroup", [this](CallContext& ctx, const Value& in) {
    std::string name(in.str("logGroupName"));
    store_.create_group(ctx.account_id, ctx.region, name, tags_of(in.get("tags")), std::string(in.str("kmsKeyId")), std::string(in.str("logGroupClass")));
    ctx.resources.emplace_back("AWS::Logs::LogGroup", name);
    return Value::map();
  });
  on("DeleteLogGroup", [this](CallContext& ctx, const Value& in) {
    GroupRef ref = group_ref(ctx, in);
    store_.delete_group(ref.account, ref.region, ref.name);
    ctx.resources.emplace_back("AWS::Logs::LogGroup", ref.name);
    return Value::map();
  });
  on("DescribeLogGroups", [this](CallContext& ctx, const Value& in) { return describe_log_groups(ctx, in); });
  on("ListLogGroups", [this](CallContext& ctx, const Value& in) { return list_log_groups(ctx, in); });
  on("CreateLogStream", [this](CallContext& ctx, const Value& in) {
    std::string group(in.str("logGroupName"));
    store_.create_stream(ctx.account_id, ctx.region, group, std::string(in.str("logStreamName")));
    ctx.resources.emplace_back("AWS::Logs::LogGroup", group);
    return Value::map();
  });
  on("DeleteLogStream", [this](CallContext& ctx, const Value& in) {
    std::string group(in.str("logGroupName"));
    store_.delete_stream(ctx.account_id, ctx.region, group, std::string(in.str("logStreamName")));
    ctx.resources.emplace_back("AWS::Logs::LogGroup", group);
    return Value::map();
  });
  on("DescribeLogStreams", [this](CallContext& ctx, const Value& in) { return describe_log_streams(ctx, in); });
  on("PutRetentionPolicy", [this](CallContext& ctx, const Value& in) {
    int64_t days = in.i64("retentionInDays", 0);
    if (std::find(std::begin(kRetentionDays), std::end(kRetentionDays), days) == std::end(kRetentionDays)) {
      std::string set;
      for (int d : kRetentionDays) set += (set.empty() ? "" : ", ") + std::to_string(d);
      throw invalid("1 validation error detected: Value '" + std::to_string(days) +
                    "' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [" + set + "]");
    }
    std::string group(in.str("logGroupName"));
    store_.set_retention(ctx.account_id, ctx.region, group, static_cast<int>(days));
    ctx.resources.emplace_back("AWS::Logs::LogGroup", group);
    return Value::map();
  });
  on("DeleteRetentionPolicy", [this](CallContext& ctx, const Value& in) {
    std::string group(in.str("logGroupName"));
    store_.set_retention(ctx.account_id, ctx.region, group, std::nullopt);
    ctx.resources.emplace_back("AWS::Logs::LogGroup", group);
    return Value::map();
  });
  on("TagLogGroup", [this](CallContext& ctx, const Value& in) {
    std::string group(in.str("logGroupName"));
    store_.tag_group(ctx.account_id, ctx.region, group, tags_of(in.get("tags")));
    ctx.resources.emplace_back("AWS::Logs::LogGroup", group);
    return Value::map();
  });
  on("UntagLogGroup", [this](CallContext& ctx, const Value& in) {
    std::string group(in.str("logGroupName"));
    store_.untag_group(ctx.account_id, ctx.region, group, strings_of(in.get("tags")));
    ctx.resources.emplace_back("AWS::Logs::LogGroup", group);
    return Value::map();
  });
  on("ListTagsLogGroup", [this](CallContext& ctx, const Value& in) {
    Value out = Value::map();
    store_.with_group(ctx.account_id, ctx.region, std::string(in.str("logGroupName")), [&](const LogGroup& g) { out.set("tags", tags_value(g.tags)); });
    return out;
  });
  // The tagging APIs name a log group by its ARN without the trailing ":*" (AWS rejects
  // that form: "ValidationException: Invalid resourceArn"). Log groups are the only taggable
  // Logs resource served; any other Logs ARN names nothing here.
  auto group_of_arn = [](const CallContext& ctx, const Value& in) {
    std::string arn(in.str("resourceArn"));
    auto invalid_arn = [] { return AwsError("ValidationException", "Invalid resourceArn", 400); };
    auto parts = split_arn(arn);
    const size_t type_end = parts ? parts->resource.find(':') : std::string_view::npos;  // log-group:NAME
    if (!parts || parts->service != "logs" || type_end == std::string_view::npos) throw invalid_arn();
    if (parts->resource.substr(0, type_end) != "log-group") throw AwsError("ResourceNotFoundException", "The specified resource does not exist.", 400);
    auto ref = parse_group_arn(arn);
    if (!ref || arn.compare(arn.size() - 2, 2, ":*") == 0) throw invalid_arn();
    if (ref->account != ctx.account_id || ref->region != ctx.region) throw group_not_found();
    return *ref;
  };
  on("TagResource", [this, group_of_arn](CallContext& ctx, const Value& in) {
    GroupRef ref = group_of_arn(ctx, in);
    store_.tag_group(ref.account, ref.region, ref.name, tags_of(in.get("tags")));
    ctx.resources.emplace_back("AWS::Logs::LogGroup", ref.name);
    return Value::map();
  });
  on("UntagResource", [this, group_of_arn](CallContext& ctx, const Value& in) {
    GroupRef ref = group_of_arn(ctx, in);
    store_.untag_group(ref.account, ref.region, ref.name, strings_of(in.get("tagKeys")));
    ctx.resources.emplace_back("AWS::Logs::LogGroup", ref.name);
    return Value::map();
  });
  on("ListTagsForResource", [this, group_of_arn](CallContext& ctx, const Value& in) {
    GroupRef ref = group_of_arn(ctx, in);
    Value out = Value::map();
    store_.with_group(ref.account, ref.region, ref.name, [&](const LogGroup& g) { out.set("tags", tags_value(g.tags)); });
    return out;
  });
  on("PutLogEvents", [this](CallContext& ctx, const Value& in) { return put_log_events(ctx, in); });
  on_raw("json", "PutLogEvents", [this](CallContext& ctx, std::string_view body, Value& audit_input) { return put_log_events_raw(ctx, body, audit_input); });
  on("GetLogEvents", [this](CallContext& ctx, const Value& in) { return get_log_events(ctx, in); });
  on("FilterLogEvents", [this](CallContext& ctx, const Value& in) { return filter_log_events(ctx, in); });
  on("TestMetricFilter", [this](CallContext& ctx, const Value& in) { return test_metric_filter(ctx, in); });
}

server::AuditClass LogsService::audit_class(std::string_view operation) const {
  // CloudWatch Logs reads and writes of log data are data events, not management events:
  // they are kept out of LookupEvents' event history.
  for (std::string_view data_op : {"PutLogEvents", "GetLogEvents", "FilterLogEvents", "GetLogRecord", "GetQueryResults", "StartLiveTail"})
    if (operation == data_op) return server::AuditClass::Data;
  return server::AuditClass::Management;
}

const Value& LogsService::audit_parameters(std::string_view operation, const Value& input, Value& scratch) const {
  // CloudTrail records which stream was written, not the log data itself.
  if (operation != "PutLogEvents") return input;
  scratch = Value::map();
  for (const char* member : {"logGroupName", "logStreamName"})
    if (const Value* v = input.get(member)) scratch.set(member, *v);
  return scratch;
}

Value LogsService::describe_log_groups(CallContext& ctx, const Value& in) {
  std::string prefix(in.str("logGroupNamePrefix"));
  std::string pattern(in.str("logGroupNamePattern"));
  if (!prefix.empty() && !pattern.empty()) throw invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
  std::string group_class(in.str("logGroupClass"));
  std::set<std::string> identifiers;
  if (const Value* ids = in.get("logGroupIdentifiers"); ids && ids->is_list())
    for (const auto& id : ids->as_list()) {
      if (!id.is_string()) continue;
      std::string identifier = id.as_string();
      if (identifier.size() > 2 && identifier.compare(identifier.size() - 2, 2, ":*") == 0) identifier.resize(identifier.size() - 2);
      identifiers.insert(identifier);
    }
  size_t limit = static_cast<size_t>(in.i64("limit", 50));
  std::string after = read_token(in);
  Value groups = Value::list();
  std::string last;
  bool more = false;
  // Groups are visited in name (ASCII) order, so a prefix is a contiguous range starting at it.
  std::string start = std::max(after, prefix);
  store_.for_each_group(ctx.account_id, ctx.region, start, !after.empty() && start == after, [&](const LogGroup& g) {
    if (!prefix.empty() && g.name.compare(0, prefix.size(), prefix) != 0) return false;
    // AWS: "a case-sensitive substring search".
    if (!pattern.empty() && g.name.find(pattern) == std::string::npos) return true;
    if (!group_class.empty() && g.log_group_class != group_class) return true;
    if (!identifiers.empty() && !identifiers.count(g.name) && !identifiers.count(g.arn())) return true;
    if (groups.size() == limit) {
      more = true;
      return false;
    }
    groups.push(group_description(g, !pattern.empty()));
    last = g.name;
    return true;
  });
  Value out = Value::map();
  out.set("logGroups", std::move(groups));
  if (more) out.set("nextToken", make_token(last));
  return out;
}

Value LogsService::list_log_groups(CallContext& ctx, const Value& in) {
  std::string pattern(in.str("logGroupNamePattern"));
  std::string group_class(in.str("logGroupClass"));
  size_t limit = static_cast<size_t>(in.i64("limit", 50));
  std::string after = read_token(in);
  Value groups = Value::list();
  std::string last;
  bool more = false;
  store_.for_each_group(ctx.account_id, ctx.region, after, !after.empty(), [&](const LogGroup& g) {
    if (!pattern.empty() && !matches_name_pattern(g.name, pattern)) return true;
    if (!group_class.empty() && g.log_group_class != group_class) return true;
    if (groups.size() == limit) {
      more = true;
      return false;
    }
    Value v = Value::map();
    v.set("logGroupName", g.name);
    v.set("logGroupArn", g.arn());
    v.set("logGroupClass", g.log_group_class);
    groups.push(std::move(v));
    last = g.name;
    return true;
  });
  Value out = Value::map();
  out.set("logGroups", std::move(groups));
  if (more) out.set("nextToken", make_token(last));
  return out;
}

Value LogsService::describe_log_streams(CallContext& ctx, const Value& in) {
  GroupRef ref = group_ref(ctx, in);
  std::string prefix(in.str("logStreamNamePrefix"));
  const bool by_time = in.str("orderBy", "LogStreamName") == "LastEventTime";
  const bool descending = in.flag("descending", false);
  if (by_time && !prefix.empty()) throw invalid("Cannot order by LastEventTime with a logStreamNamePrefix.");
  size_t limit = static_cast<size_t>(in.i64("limit", 50));
  // Tokens hold the sort key of the last stream returned ("N" name, or "T" time + name), so
  // streams created or deleted between pages neither repeat nor shift the next page.
  std::string token = read_token(in);
  std::optional<std::pair<int64_t, std::string>> after;
  if (!token.empty()) {
    if (token[0] == 'N' && !by_time) {
      after.emplace(0, token.substr(1));
    } else if (token[0] == 'T' && by_time && token.size() >= 9) {
      after.emplace(unorder_i64(read_u64(token, 1)), token.substr(9));
    } else {
      throw invalid_token();
    }
  }
  Value out = Value::map();
  store_.with_group(ref.account, ref.region, ref.name, [&](const LogGroup& g) {
    // Streams without events sort as if their last event were at time 0.
    auto sort_time = [&](const LogStream& s) { return by_time ? s.last_event_timestamp.value_or(0) : 0; };
    std::vector<const LogStream*> rows;
    for (auto it = prefix.empty() ? g.streams.begin() : g.streams.lower_bound(prefix); it != g.streams.end(); ++it) {
      if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
      rows.push_back(it->second.get());
    }
    auto key_of = [&](const LogStream* s) { return std::pair<int64_t, std::string_view>(sort_time(*s), s->name); };
    if (by_time) std::stable_sort(rows.begin(), rows.end(), [&](const LogStream* a, const LogStream* b) { return key_of(a) < key_of(b); });
    if (descending) std::reverse(rows.begin(), rows.end());
    size_t begin = 0;
    if (after) {
      std::pair<int64_t, std::string_view> position(after->first, after->second);
      auto past = [&](const LogStream* s) { return descending ? key_of(s) < position : position < key_of(s); };
      begin = static_cast<size_t>(std::find_if(rows.begin(), rows.end(), past) - rows.begin());
    }
    Value streams = Value::list();
    size_t end = std::min(rows.size(), begin + limit);
    for (size_t i = begin; i < end; ++i) {
      const LogStream& s = *rows[i];
      Value v = Value::map();
      v.set("logStreamName", s.name);
      v.set("creationTime", s.creation_time);
      if (s.first_event_timestamp) v.set("firstEventTimestamp", *s.first_event_timestamp);
      if (s.last_event_timestamp) v.set("lastEventTimestamp", *s.last_event_timestamp);
      if (s.last_ingestion_time) v.set("lastIngestionTime", *s.last_ingestion_time);
      v.set("uploadSequenceToken", sequence_token(s.id));
      v.set("arn", g.arn() + ":log-stream:" + s.name);
      v.set("storedBytes", 0);  // AWS: "always reported as zero" for log streams since 2019
      streams.push(std::move(v));
    }
    out.set("logStreams", std::move(streams));
    if (end < rows.size()) {
      const LogStream& last = *rows[end - 1];
      std::string position;
      if (by_time) {
        position = "T";
        append_u64(position, order_i64(sort_time(last)));
      } else {
        position = "N";
      }
      position += last.name;
      out.set("nextToken", make_token(position));
    }
  });
  return out;
}

Value LogsService::put_log_events(CallContext& ctx, const Value& in) {
  // The generic path (other protocols, and awsJson bodies the fast path declines): copies
  // each message out of the decoded Value tree.
  const Value::List& list = in.get("logEvents")->as_list();
  std::vector<InputEvent> events;
  events.reserve(list.size());
  for (const auto& e : list) events.push_back(InputEvent{e.i64("timestamp", 0), std::string(e.str("message"))});
  return store_log_events(ctx, std::string(in.str("logGroupName")), std::string(in.str("logStreamName")), events);
}

std::optional<Value> LogsService::put_log_events_raw(CallContext& ctx, std::string_view body, Value& audit_input) {
  // Per worker thread, reused across calls: the events vector and its message strings keep
  // their buffers, so a steady stream of batches allocates nothing here.
  thread_local PutLogEventsInput in;
  if (in.events.capacity() > kMaxEventsPerCall / 10 && in.events.size() <= kMaxEventsPerCall / 10) {
    // Do not pin a 10,000-event batch's buffers in every worker thread.
    in.events.clear();
    in.events.shrink_to_fit();
  }
  if (!decode_put_log_events(body, in)) return std::nullopt;
  // What audit_parameters keeps of a PutLogEvents input.
  audit_input = Value::map();
  audit_input.set("logGroupName", in.log_group_name);
  audit_input.set("logStreamName", in.log_stream_name);
  return store_log_events(ctx, in.log_group_name, in.log_stream_name, in.events);
}

Value LogsService::store_log_events(CallContext& ctx, const std::string& group, const std::string& stream, const std::vector<InputEvent>& events) {
  size_t batch_bytes = 0;
  for (const auto& event : events) {
    size_t event_bytes = event.message.size() + kPerEventOverhead;  // UTF-8 bytes, as AWS counts
    if (event_bytes > kMaxEventBytes)
      throw invalid("Log event too large: " + std::to_string(event_bytes) + " bytes exceeds limit of " + std::to_string(kMaxEventBytes));
    batch_bytes += event_bytes;
  }
  if (batch_bytes > kMaxBatchBytes)
    throw invalid("Upload too large: " + std::to_string(batch_bytes) + " bytes exceeds limit of " + std::to_string(kMaxBatchBytes));
  for (size_t i = 1; i < events.size(); ++i)
    if (events[i].timestamp < events[i - 1].timestamp) throw invalid("Log events in a single PutLogEvents request must be in chronological order.");

  // sequenceToken is accepted and ignored, as AWS does since January 2023.
  RejectedInfo rejected = store_.put_events(ctx.account_id, ctx.region, group, stream, events);
  ctx.resources.emplace_back("AWS::Logs::LogGroup", group);
  Value out = Value::map();
  // Older clients still read a token; AWS still sends one.
  out.set("nextSequenceToken", sequence_token(static_cast<uint64_t>(clock_.now_millis())));
  if (rejected.too_new_start_index || rejected.too_old_end_index || rejected.expired_end_index) {
    Value info = Value::map();
    if (rejected.too_new_start_index) info.set("tooNewLogEventStartIndex", *rejected.too_new_start_index);
    if (rejected.too_old_end_index) info.set("tooOldLogEventEndIndex", *rejected.too_old_end_index);
    if (rejected.expired_end_index) info.set("expiredLogEventEndIndex", *rejected.expired_end_index);
    out.set("rejectedLogEventsInfo", std::move(info));
  }
  return out;
}

Value LogsService::get_log_events(CallContext& ctx, const Value& in) {
  GroupRef ref = group_ref(ctx, in);
  std::string stream_name(in.str("logStreamName"));
  uint64_t group_id = 0, stream_id = 0;
  store_.with_group(ref.account, ref.region, ref.name, [&](const LogGroup& g) {
    auto it = g.streams.find(stream_name);
    if (it == g.streams.end()) throw AwsError("ResourceNotFoundException", "The specified log stream does not exist.", 400);
    group_id = g.id;
    stream_id = it->second->id;
  });
  // [startTime, endTime): AWS: "Events with a timestamp equal to or later than this time are
  // not included" for endTime.
  int64_t start = in.i64("startTime", INT64_MIN);
  int64_t end = in.i64("endTime", INT64_MAX);
  size_t limit = static_cast<size_t>(in.i64("limit", 10000));
  std::string token(in.str("nextToken"));
  std::optional<StreamPosition> from;
  bool forward = in.flag("startFromHead", false);
  if (!token.empty()) {
    // The token's direction wins over startFromHead.
    char direction = 'f';
    from = parse_position_token(token, &direction);
    if (!from) throw invalid_token();
    forward = direction == 'f';
  }
  auto events = store_.read_stream(group_id, stream_id, start, end, from, forward, limit, kMaxResponseBytes);
  Value out = Value::map();
  Value list = Value::list();
  for (const auto& e : events) list.push(event_value(e));
  out.set("events", std::move(list));
  if (!events.empty()) {
    out.set("nextForwardToken", position_token('f', events.back().timestamp, events.back().sequence));
    out.set("nextBackwardToken", position_token('b', events.front().timestamp, events.front().sequence));
  } else if (from) {
    // Nothing further in this direction: AWS returns the token it was given ("If you have
    // reached the end of the stream, it returns the same token you passed in").
    out.set("nextForwardToken", forward ? token : position_token('f', from->timestamp, from->sequence));
    out.set("nextBackwardToken", forward ? position_token('b', from->timestamp, from->sequence) : token);
  } else {
    // Empty range: the forward token reads from the start of the range (so events ingested
    // later are found), the backward token from its end.
    out.set("nextForwardToken", position_token('f', start, 0));
    out.set("nextBackwardToken", position_token('b', end, 0));
  }
  return out;
}

Value LogsService::filter_log_events(CallContext& ctx, const Value& in) {
  GroupRef ref = group_ref(ctx, in);
  const Value* names = in.get("logStreamNames");
  std::string prefix(in.str("logStreamNamePrefix"));
  if (names && !prefix.empty()) throw invalid("Cannot specify both logStreamNames and logStreamNamePrefix.");
  // [startTime, endTime]: AWS: "Events with a timestamp later than this time are not returned."
  int64_t start = in.i64("startTime", INT64_MIN);
  int64_t end = in.i64("endTime", INT64_MAX);
  if (end != INT64_MAX) end += 1;
  size_t limit = static_cast<size_t>(in.i64("limit", 10000));
  auto pattern = compile_pattern(in.str("filterPattern"));

  uint64_t group_id = 0;
  std::vector<uint64_t> stream_ids;
  std::unordered_map<uint64_t, std::string> stream_names;
  store_.with_group(ref.account, ref.region, ref.name, [&](const LogGroup& g) {
    group_id = g.id;
    auto add = [&](const LogStream& s) {
      if (stream_names.emplace(s.id, s.name).second) stream_ids.push_back(s.id);
    };
    if (names) {
      // Names of streams that do not exist select nothing.
      for (const auto& n : strings_of(names))
        if (auto it = g.streams.find(n); it != g.streams.end()) add(*it->second);
    } else {
      for (auto it = prefix.empty() ? g.streams.begin() : g.streams.lower_bound(prefix); it != g.streams.end(); ++it) {
        if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
        add(*it->second);
      }
    }
  });

  // Tokens hold the merge position of the last event consumed (returned, or scanned and not
  // matched): the next page resumes strictly after it.
  std::optional<LogStore::MergePosition> after;
  std::string token = read_token(in);
  if (!token.empty()) {
    if (token.size() != 17 || token[0] != 'F') throw invalid_token();
    after = LogStore::MergePosition{unorder_i64(read_u64(token, 1)), read_u64(token, 9)};
  }
  // One page of a scan over a time range: its events, their merge positions, and where it
  // stopped.
  struct Page {
    Value events = Value::list();
    std::vector<LogStore::MergePosition> positions;
    size_t bytes = 0, scanned = 0;
    bool more = false;
    std::optional<LogStore::MergePosition> consumed;
  };
  auto scan = [&](int64_t from, int64_t to, const std::optional<LogStore::MergePosition>& resume, Page& page) {
    store_.scan_streams(group_id, stream_ids, from, to, resume, [&](const EventView& e) {
      if (page.events.size() >= limit || page.scanned >= kMaxScannedEvents) {
        page.more = true;
        return false;
      }
      ++page.scanned;
      if (pattern->matches(e.message)) {
        size_t size = e.message.size() + kPerEventOverhead;
        if (page.events.size() > 0 && page.bytes + size > kMaxResponseBytes) {
          page.more = true;
          return false;
        }
        Value v = Value::map();
        v.set("logStreamName", stream_names.at(e.stream_id));  // read-only: both scan threads share the map
        v.set("timestamp", e.timestamp);
        v.set("message", e.message);
        v.set("ingestionTime", e.ingestion_time);
        v.set("eventId", event_id(e));
        page.events.push(std::move(v));
        page.positions.push_back({e.timestamp, e.sequence});
        page.bytes += size;
      }
      page.consumed = LogStore::MergePosition{e.timestamp, e.sequence};
      return true;
    });
  };

  // Large scans run as two halves of the time range on two threads (a scan is CPU-bound: one
  // core per half halves the latency of a selective pattern). Every event of the first half
  // precedes every event of the second in merge order, so the pages concatenate.
  int64_t lo = std::max(start, after ? after->timestamp : INT64_MIN), hi = end;
  if (lo == INT64_MIN || hi == INT64_MAX) {
    store_.with_group(ref.account, ref.region, ref.name, [&](const LogGroup& g) {
      int64_t first = INT64_MAX, last = INT64_MIN;
      for (const auto& [name, stream] : g.streams) {
        if (!stream_names.count(stream->id)) continue;
        if (stream->first_event_timestamp) first = std::min(first, *stream->first_event_timestamp);
        if (stream->last_event_timestamp) last = std::max(last, *stream->last_event_timestamp);
      }
      if (lo == INT64_MIN) lo = first;
      if (hi == INT64_MAX && last != INT64_MIN) hi = last + 1;
    });
  }
  int64_t stored = 0;
  store_.with_group(ref.account, ref.region, ref.name, [&](const LogGroup& g) { stored = g.stored_bytes.load(); });
  const bool split = stored >= parallel_scan_min_bytes_ && lo != INT64_MAX && hi != INT64_MAX && hi - lo >= 2;
  Page page;
  if (!split) {
    scan(start, end, after, page);
  } else {
    int64_t mid = lo + (hi - lo) / 2;  // > lo >= after's timestamp: the second half needs no resume point
    Page second;
    std::thread second_half([&] { scan(mid, end, std::nullopt, second); });
    scan(start, mid, after, page);
    second_half.join();
    if (!page.more) {
      // Append the second half while the page has room; stop where it fills.
      size_t i = 0;
      for (; i < second.positions.size(); ++i) {
        size_t size = second.events.as_list()[i].str("message").size() + kPerEventOverhead;
        if (page.events.size() >= limit || (page.events.size() > 0 && page.bytes + size > kMaxResponseBytes)) break;
        page.events.push(std::move(second.events.as_list()[i]));
        page.positions.push_back(second.positions[i]);
        page.bytes += size;
      }
      if (i < second.positions.size()) {
        page.more = true;
        page.consumed = page.positions.back();
      } else {
        page.more = second.more;
        if (second.consumed) page.consumed = second.consumed;
      }
    }
  }
  Value events = std::move(page.events);
  bool more = page.more;
  std::optional<LogStore::MergePosition> consumed = page.consumed;
  Value out = Value::map();
  out.set("events", std::move(events));
  // AWS: "As of May 15, 2020, this parameter is no longer supported. This parameter returns
  // an empty list."
  out.set("searchedLogStreams", Value::list());
  if (more) {
    const auto& position = consumed ? *consumed : *after;  // more implies something was consumed or resumed
    std::string encoded = "F";
    append_u64(encoded, order_i64(position.timestamp));
    append_u64(encoded, position.sequence);
    out.set("nextToken", make_token(encoded));
  }
  return out;
}

Value LogsService::test_metric_filter(CallContext& ctx, const Value& in) {
  auto pattern = compile_pattern(in.str("filterPattern"));
  Value matches = Value::list();
  int number = 0;
  for (const auto& message : in.get("logEventMessages")->as_list()) {
    ++number;
    if (!message.is_string()) continue;
    FilterMatch match;
    if (!pattern->matches(message.as_string(), &match)) continue;
    Value v = Value::map();
    v.set("eventNumber", number);
    v.set("eventMessage", message.as_string());
    Value extracted = Value::map();
    for (const auto& [k, value] : match.extracted_values) extracted.set(k, value);
    v.set("extractedValues", std::move(extracted));
    matches.push(std::move(v));
  }
  Value out = Value::map();
  out.set("matches", std::move(matches));
  return out;
}

}  // namespace vigil::logs
