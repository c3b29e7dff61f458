#include "services/logs/logs_service.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/schema.h"
#include "services/logs/filter_pattern.h"

namespace vigil::logs {

namespace {

using server::CallContext;

constexpr size_t kMaxBatchBytes = 1'048'576;
constexpr size_t kPerEventOverhead = 26;
constexpr size_t kMaxEventBytes = 1'048'576 - kPerEventOverhead;
constexpr int64_t kMaxBatchSpanMillis = 24LL * 3600 * 1000;
constexpr size_t kMaxResponseBytes = 1'048'576;
constexpr int kRetentionDays[] = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

AwsError invalid(const std::string& message) { return AwsError("InvalidParameterException", message, 400); }

std::map<std::string, std::string> tags_of(const Value* v) {
  std::map<std::string, std::string> tags;
  if (v && v->is_map())
    for (const auto& [k, t] : v->as_map()) tags[k] = t.is_string() ? t.as_string() : "";
  return tags;
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

GroupRef parse_group_arn(const std::string& arn) {
  // arn:aws:logs:region:account:log-group:name[:*]
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 6; ++i) {
    size_t colon = arn.find(':', start);
    if (colon == std::string::npos) throw invalid("Invalid log group ARN: " + arn);
    parts.push_back(arn.substr(start, colon - start));
    start = colon + 1;
  }
  if (parts[0] != "arn" || parts[2] != "logs" || parts[5] != "log-group") throw invalid("Invalid log group ARN: " + arn);
  std::string name = arn.substr(start);
  if (name.size() >= 2 && name.compare(name.size() - 2, 2, ":*") == 0) name.resize(name.size() - 2);
  return {parts[4], parts[3], name};
}

GroupRef group_ref(const CallContext& ctx, const Value& in) {
  std::string_view name = in.str("logGroupName");
  std::string_view identifier = in.str("logGroupIdentifier");
  if (!name.empty() && !identifier.empty()) throw invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.");
  if (!identifier.empty()) {
    if (identifier.substr(0, 4) == "arn:") {
      GroupRef ref = parse_group_arn(std::string(identifier));
      if (ref.account != ctx.account_id || ref.region != ctx.region) throw AwsError("ResourceNotFoundException", "The specified log group does not exist.", 400);
      return ref;
    }
    return {ctx.account_id, ctx.region, std::string(identifier)};
  }
  if (name.empty()) throw invalid("Either logGroupName or logGroupIdentifier must be specified.");
  return {ctx.account_id, ctx.region, std::string(name)};
}

// Opaque pagination tokens: base64 of the last position, so clients cannot depend on them.
std::string make_token(std::string_view position) { return base64_encode(position); }
std::string read_token(const Value& in, std::string_view member = "nextToken") {
  std::string_view token = in.str(member);
  if (token.empty()) return {};
  auto decoded = base64_decode(token);
  if (!decoded) throw invalid("The specified nextToken is invalid.");
  return *decoded;
}

Value group_description(const LogGroup& g) {
  Value v = Value::map();
  v.set("logGroupName", g.name);
  v.set("creationTime", g.creation_time);
  if (g.retention_in_days) v.set("retentionInDays", *g.retention_in_days);
  v.set("metricFilterCount", 0);
  v.set("arn", g.arn() + ":*");
  v.set("storedBytes", g.stored_bytes.load());
  if (!g.kms_key_id.empty()) v.set("kmsKeyId", g.kms_key_id);
  v.set("logGroupClass", g.log_group_class);
  v.set("logGroupArn", g.arn());
  return v;
}

bool wildcard_contains_ci(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); });
  return it != haystack.end();
}

// Positions in GetLogEvents tokens: "f/" or "b/" + 16 hex timestamp + 16 hex sequence + "/s".
std::string position_token(char direction, int64_t timestamp, uint64_t sequence) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%c/%016llx%016llx/s", direction, static_cast<unsigned long long>(order_i64(timestamp)),
                static_cast<unsigned long long>(sequence));
  return buf;
}

std::optional<StreamPosition> parse_position_token(std::string_view token, char* direction) {
  // "f/<16 hex><16 hex>/s"
  if (token.size() != 36 || (token[0] != 'f' && token[0] != 'b') || token[1] != '/' || token.substr(34) != "/s") return std::nullopt;
  auto hex = [](std::string_view h, uint64_t& out) {
    out = 0;
    for (char c : h) {
      int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (v < 0) return false;
      out = out * 16 + static_cast<uint64_t>(v);
    }
    return true;
  };
  uint64_t t, s;
  if (!hex(token.substr(2, 16), t) || !hex(token.substr(18, 16), s)) return std::nullopt;
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

// AWS event ids are long digit strings; ours encode the event's merge position, so the same
// event always has the same id (aws logs tail --follow de-duplicates by it).
std::string event_id(const StoredEvent& e, uint64_t stream_id) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%020llu%020llu%016llu", static_cast<unsigned long long>(order_i64(e.timestamp)),
                static_cast<unsigned long long>(e.sequence), static_cast<unsigned long long>(stream_id));
  return buf;
}

std::shared_ptr<const FilterPattern> compile_pattern(std::string_view pattern) {
  std::string error;
  auto compiled = FilterPattern::compile(pattern, &error);
  if (!compiled) throw invalid(error.empty() ? "Invalid filter pattern" : error);
  return compiled;
}

}  // namespace

LogsService::LogsService(LogStore& store, const Clock& clock)
    : Service(*protocol::embedded_model("logs")), store_(store), clock_(clock) {
  on("CreateLogGroup", [this](CallContext& ctx, const Value& in) {
    std::string name(in.str("logGroupName"));
    auto tags = tags_of(in.get("tags"));
    if (tags.size() > 50) throw invalid("A resource can have no more than 50 tags.");
    store_.create_group(ctx.account_id, ctx.region, name, tags, std::string(in.str("kmsKeyId")), std::string(in.str("logGroupClass")));
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
    store_.tag_group(ctx.account_id, ctx.region, std::string(in.str("logGroupName")), tags_of(in.get("tags")));
    return Value::map();
  });
  on("UntagLogGroup", [this](CallContext& ctx, const Value& in) {
    std::vector<std::string> keys;
    if (const Value* t = in.get("tags"); t && t->is_list())
      for (const auto& k : t->as_list()) keys.push_back(k.as_string());
    store_.untag_group(ctx.account_id, ctx.region, std::string(in.str("logGroupName")), keys);
    return Value::map();
  });
  on("ListTagsLogGroup", [this](CallContext& ctx, const Value& in) {
    Value out = Value::map();
    store_.with_group(ctx.account_id, ctx.region, std::string(in.str("logGroupName")), [&](const LogGroup& g) { out.set("tags", tags_value(g.tags)); });
    return out;
  });
  auto group_of_arn = [](const CallContext& ctx, const Value& in) {
    std::string arn(in.str("resourceArn"));
    GroupRef ref;
    try {
      ref = parse_group_arn(arn);
    } catch (const AwsError&) {
      throw AwsError("ResourceNotFoundException", "The specified resource does not exist.", 400);
    }
    if (ref.account != ctx.account_id || ref.region != ctx.region) throw AwsError("ResourceNotFoundException", "The specified resource does not exist.", 400);
    return ref;
  };
  on("TagResource", [this, group_of_arn](CallContext& ctx, const Value& in) {
    GroupRef ref = group_of_arn(ctx, in);
    store_.tag_group(ref.account, ref.region, ref.name, tags_of(in.get("tags")));
    return Value::map();
  });
  on("UntagResource", [this, group_of_arn](CallContext& ctx, const Value& in) {
    GroupRef ref = group_of_arn(ctx, in);
    std::vector<std::string> keys;
    if (const Value* t = in.get("tagKeys"); t && t->is_list())
      for (const auto& k : t->as_list()) keys.push_back(k.as_string());
    store_.untag_group(ref.account, ref.region, ref.name, keys);
    return Value::map();
  });
  on("ListTagsForResource", [this, group_of_arn](CallContext& ctx, const Value& in) {
    GroupRef ref = group_of_arn(ctx, in);
    Value out = Value::map();
    try {
      store_.with_group(ref.account, ref.region, ref.name, [&](const LogGroup& g) { out.set("tags", tags_value(g.tags)); });
    } catch (const AwsError&) {
      throw AwsError("ResourceNotFoundException", "The specified resource does not exist.", 400);
    }
    return out;
  });
  on("PutLogEvents", [this](CallContext& ctx, const Value& in) { return put_log_events(ctx, in); });
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

Value LogsService::describe_log_groups(CallContext& ctx, const Value& in) {
  std::string prefix(in.str("logGroupNamePrefix"));
  std::string pattern(in.str("logGroupNamePattern"));
  if (!prefix.empty() && !pattern.empty()) throw invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
  std::string group_class(in.str("logGroupClass"));
  std::set<std::string> identifiers;
  if (const Value* ids = in.get("logGroupIdentifiers"); ids && ids->is_list())
    for (const auto& id : ids->as_list()) {
      std::string identifier = id.as_string();
      if (identifier.size() > 2 && identifier.compare(identifier.size() - 2, 2, ":*") == 0) identifier.resize(identifier.size() - 2);
      identifiers.insert(identifier);
    }
  size_t limit = static_cast<size_t>(in.i64("limit", 50));
  std::string after = read_token(in);
  Value groups = Value::list();
  std::string last;
  bool more = false;
  // Groups are visited in name order, so a prefix is a contiguous range starting at it.
  std::string start = std::max(after, prefix);
  store_.for_each_group(ctx.account_id, ctx.region, start, !after.empty() && start == after, [&](const LogGroup& g) {
    if (!prefix.empty() && g.name.compare(0, prefix.size(), prefix) != 0) return false;
    if (!pattern.empty() && !wildcard_contains_ci(g.name, pattern)) return true;
    if (!group_class.empty() && g.log_group_class != group_class) return true;
    if (!identifiers.empty() && !identifiers.count(g.name) && !identifiers.count(g.arn())) return true;
    if (groups.size() == limit) {
      more = true;
      return false;
    }
    groups.push(group_description(g));
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
    if (!pattern.empty() && !wildcard_contains_ci(g.name, pattern)) return true;
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
  std::string order_by(in.str("orderBy", "LogStreamName"));
  bool descending = in.flag("descending", false);
  if (order_by == "LastEventTime" && !prefix.empty()) throw invalid("Cannot order by LastEventTime with a logStreamNamePrefix.");
  size_t limit = static_cast<size_t>(in.i64("limit", 50));
  std::string token = read_token(in);
  size_t offset = 0;
  if (!token.empty()) {
    try {
      offset = std::stoul(token);
    } catch (...) {
      throw invalid("The specified nextToken is invalid.");
    }
  }
  Value out = Value::map();
  store_.with_group(ref.account, ref.region, ref.name, [&](const LogGroup& g) {
    struct Row {
      const LogStream* stream;
      int64_t sort_time;
    };
    std::vector<Row> rows;
    auto it = prefix.empty() ? g.streams.begin() : g.streams.lower_bound(prefix);
    for (; it != g.streams.end(); ++it) {
      if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
      const LogStream& s = *it->second;
      rows.push_back({&s, s.last_event_timestamp.value_or(s.creation_time)});
    }
    if (order_by == "LastEventTime") {
      std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.sort_time < b.sort_time; });
    }
    if (descending) std::reverse(rows.begin(), rows.end());
    Value streams = Value::list();
    size_t end = std::min(rows.size(), offset + limit);
    for (size_t i = offset; i < end; ++i) {
      const LogStream& s = *rows[i].stream;
      Value v = Value::map();
      v.set("logStreamName", s.name);
      v.set("creationTime", s.creation_time);
      if (s.first_event_timestamp) v.set("firstEventTimestamp", *s.first_event_timestamp);
      if (s.last_event_timestamp) v.set("lastEventTimestamp", *s.last_event_timestamp);
      if (s.last_ingestion_time) v.set("lastIngestionTime", *s.last_ingestion_time);
      v.set("uploadSequenceToken", "49039859" + std::to_string(s.id) + "0000000000000000000000000000000000000");
      v.set("arn", g.arn() + ":log-stream:" + s.name);
      v.set("storedBytes", 0);
      streams.push(std::move(v));
    }
    out.set("logStreams", std::move(streams));
    if (end < rows.size()) out.set("nextToken", make_token(std::to_string(end)));
  });
  return out;
}

Value LogsService::put_log_events(CallContext& ctx, const Value& in) {
  const Value::List& list = in.get("logEvents")->as_list();
  std::vector<InputEvent> events;
  events.reserve(list.size());
  size_t batch_bytes = 0;
  for (const auto& e : list) {
    InputEvent event{e.i64("timestamp", 0), std::string(e.str("message"))};
    if (event.message.size() > kMaxEventBytes)
      throw invalid("Log event too large: " + std::to_string(event.message.size() + kPerEventOverhead) + " bytes exceeds limit of 1048576");
    batch_bytes += event.message.size() + kPerEventOverhead;
    events.push_back(std::move(event));
  }
  if (batch_bytes > kMaxBatchBytes)
    throw invalid("Upload too large: " + std::to_string(batch_bytes) + " bytes exceeds limit of " + std::to_string(kMaxBatchBytes));
  for (size_t i = 1; i < events.size(); ++i)
    if (events[i].timestamp < events[i - 1].timestamp) throw invalid("Log events in a single PutLogEvents request must be in chronological order.");
  if (!events.empty() && events.back().timestamp - events.front().timestamp > kMaxBatchSpanMillis)
    throw invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");

  std::string group(in.str("logGroupName")), stream(in.str("logStreamName"));
  RejectedInfo rejected = store_.put_events(ctx.account_id, ctx.region, group, stream, events);
  ctx.resources.emplace_back("AWS::Logs::LogGroup", group);
  Value out = Value::map();
  // Sequence tokens are ignored by AWS today, but older clients still read one.
  out.set("nextSequenceToken", "49039859" + std::to_string(clock_.now_millis()) + "000000000000000000000000000");
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
  int64_t start = in.i64("startTime", INT64_MIN);
  int64_t end = in.i64("endTime", INT64_MAX);
  size_t limit = static_cast<size_t>(in.i64("limit", 10000));
  std::string token(in.str("nextToken"));
  std::optional<StreamPosition> from;
  bool forward = in.flag("startFromHead", false);
  if (!token.empty()) {
    char direction = 'f';
    from = parse_position_token(token, &direction);
    if (!from) throw invalid("The specified nextToken is invalid.");
    forward = direction == 'f';
  }
  auto events = store_.read_stream(group_id, stream_id, start, end, from, forward, limit, kMaxResponseBytes);
  Value out = Value::map();
  Value list = Value::list();
  for (const auto& e : events) list.push(event_value(e));
  out.set("events", std::move(list));
  if (events.empty()) {
    // Clients page until the token they get back equals the one they sent.
    if (!token.empty()) {
      out.set("nextForwardToken", token[0] == 'f' ? token : position_token('f', from->timestamp, from->sequence));
      out.set("nextBackwardToken", token[0] == 'b' ? token : position_token('b', from->timestamp, from->sequence));
    } else {
      int64_t edge = forward ? (start == INT64_MIN ? 0 : start) : (end == INT64_MAX ? clock_.now_millis() : end);
      out.set("nextForwardToken", position_token('f', edge, 0));
      out.set("nextBackwardToken", position_token('b', edge, 0));
    }
  } else {
    out.set("nextForwardToken", position_token('f', events.back().timestamp, events.back().sequence));
    out.set("nextBackwardToken", position_token('b', events.front().timestamp, events.front().sequence));
  }
  return out;
}

Value LogsService::filter_log_events(CallContext& ctx, const Value& in) {
  GroupRef ref = group_ref(ctx, in);
  const Value* names = in.get("logStreamNames");
  std::string prefix(in.str("logStreamNamePrefix"));
  if (names && !prefix.empty()) throw invalid("You cannot specify both logStreamNames and logStreamNamePrefix.");
  int64_t start = in.i64("startTime", INT64_MIN);
  int64_t end = in.i64("endTime", INT64_MAX);
  if (end != INT64_MAX) end += 1;  // endTime is inclusive
  if (start > end) throw invalid("startTime must be less than or equal to endTime.");
  size_t limit = static_cast<size_t>(in.i64("limit", 10000));
  auto pattern = compile_pattern(in.str("filterPattern"));

  uint64_t group_id = 0;
  std::vector<uint64_t> stream_ids;
  std::unordered_map<uint64_t, std::string> stream_names;
  store_.with_group(ref.account, ref.region, ref.name, [&](const LogGroup& g) {
    group_id = g.id;
    if (names) {
      for (const auto& n : names->as_list()) {
        auto it = g.streams.find(n.as_string());
        if (it == g.streams.end()) continue;
        stream_ids.push_back(it->second->id);
        stream_names[it->second->id] = it->first;
      }
    } else {
      for (auto it = prefix.empty() ? g.streams.begin() : g.streams.lower_bound(prefix); it != g.streams.end(); ++it) {
        if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
        stream_ids.push_back(it->second->id);
        stream_names[it->second->id] = it->first;
      }
    }
  });

  std::optional<LogStore::MergePosition> after;
  std::string token = read_token(in);
  if (!token.empty()) {
    if (token.size() != 24) throw invalid("The specified nextToken is invalid.");
    after = LogStore::MergePosition{unorder_i64(read_u64(token, 0)), read_u64(token, 8), read_u64(token, 16)};
  }
  Value events = Value::list();
  size_t bytes = 0;
  bool more = false;
  LogStore::MergePosition last{};
  store_.scan_streams(group_id, stream_ids, start, end, after, [&](const StoredEvent& e) {
    if (events.size() >= limit || bytes >= kMaxResponseBytes) {
      more = true;
      return false;
    }
    if (!pattern->matches(e.message)) return true;
    Value v = Value::map();
    v.set("logStreamName", stream_names[e.stream_id]);
    v.set("timestamp", e.timestamp);
    v.set("message", e.message);
    v.set("ingestionTime", e.ingestion_time);
    v.set("eventId", event_id(e, e.stream_id));
    events.push(std::move(v));
    bytes += e.message.size() + 100;
    last = {e.timestamp, e.stream_id, e.sequence};
    return true;
  });
  Value out = Value::map();
  out.set("events", std::move(events));
  Value searched = Value::list();
  for (uint64_t id : stream_ids) {
    Value s = Value::map();
    s.set("logStreamName", stream_names[id]);
    s.set("searchedCompletely", !more);
    searched.push(std::move(s));
  }
  out.set("searchedLogStreams", std::move(searched));
  if (more) {
    std::string position;
    append_u64(position, order_i64(last.timestamp));
    append_u64(position, last.stream_id);
    append_u64(position, last.sequence);
    out.set("nextToken", make_token(position));
  }
  return out;
}

Value LogsService::test_metric_filter(CallContext& ctx, const Value& in) {
  auto pattern = compile_pattern(in.str("filterPattern"));
  Value matches = Value::list();
  int number = 0;
  for (const auto& message : in.get("logEventMessages")->as_list()) {
    ++number;
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
