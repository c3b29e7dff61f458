#include "protocol/rest_codec.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "core/encoding.h"
#include "protocol/json_codec.h"
#include "protocol/query_codec.h"
#include "protocol/xml.h"

namespace vigil::protocol {

namespace {

struct Segment {
  std::string literal;          // whole segment when !is_label
  std::string prefix, suffix;   // around the label inside the segment
  std::string label;
  bool is_label = false;
  bool greedy = false;
};

struct Capture {
  std::string label;
  std::string raw;  // still percent-encoded
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}


std::vector<Segment> parse_path_template(std::string_view path) {
  std::vector<Segment> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    Segment seg;
    size_t open = part.find('{');
    size_t close = part.find('}');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
      seg.is_label = true;
      seg.prefix = std::string(part.substr(0, open));
      seg.suffix = std::string(part.substr(close + 1));
      std::string_view label = part.substr(open + 1, close - open - 1);
      if (!label.empty() && label.back() == '+') {
        seg.greedy = true;
        label.remove_suffix(1);
      }
      seg.label = std::string(label);
    } else {
      seg.literal = std::string(part);
    }
    out.push_back(std::move(seg));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

// Matches segments[i..] against path[pos..] (path without its leading '/').
bool match_segments(const std::vector<Segment>& segments, size_t i, std::string_view path, size_t pos, std::vector<Capture>& captures) {
  if (i == segments.size()) return pos == path.size() || (pos + 1 == path.size() && path[pos] == '/');
  if (i > 0) {
    if (pos >= path.size() || path[pos] != '/') return false;
    ++pos;
  }
  const Segment& seg = segments[i];
  if (!seg.is_label) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(pos, end - pos) != seg.literal) return false;
    return match_segments(segments, i + 1, path, end, captures);
  }
  if (!seg.greedy) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view text = path.substr(pos, end - pos);
    if (text.size() <= seg.prefix.size() + seg.suffix.size()) return false;  // labels are never empty
    if (text.substr(0, seg.prefix.size()) != seg.prefix || text.substr(text.size() - seg.suffix.size()) != seg.suffix) return false;
    captures.push_back({seg.label, std::string(text.substr(seg.prefix.size(), text.size() - seg.prefix.size() - seg.suffix.size()))});
    if (match_segments(segments, i + 1, path, end, captures)) return true;
    captures.pop_back();
    return false;
  }
  // Greedy: the longest value that lets the rest of the template match.
  if (path.substr(pos, seg.prefix.size()) != seg.prefix) return false;
  size_t value_start = pos + seg.prefix.size();
  for (size_t end = path.size(); end > value_start; --end) {
    if (i + 1 < segments.size() && end < path.size() && path[end] != '/') continue;
    std::string_view value = path.substr(value_start, end - value_start);
    if (value.size() <= seg.suffix.size() || value.substr(value.size() - seg.suffix.size()) != seg.suffix) continue;
    if (i + 1 == segments.size() && end != path.size()) break;  // a last greedy label takes everything
    captures.push_back({seg.label, std::string(value.substr(0, value.size() - seg.suffix.size()))});
    if (match_segments(segments, i + 1, path, end, captures)) return true;
    captures.pop_back();
  }
  return false;
}


// Splits a header list value on commas outside double quotes; unquotes quoted items.
std::vector<std::string> split_header_list(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\' && i + 1 < text.size()) {
        current += text[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        current += c;
      }
    } else if (c == '"') {
      quoted = was_quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(current));
      current.clear();
      was_quoted = false;
    } else if ((c == ' ' || c == '\t') && current.empty() && !was_quoted) {
      continue;
    } else {
      current += c;
    }
  }
  while (!current.empty() && !was_quoted && (current.back() == ' ' || current.back() == '\t')) current.pop_back();
  if (!current.empty() || was_quoted || !out.empty()) out.push_back(std::move(current));
  return out;
}

std::string join_header_list(const Value& list, const Shape& shape, std::string_view ts_format) {
  std::string out;
  const Shape* item_shape = shape.list_member.shape;
  bool first = true;
  for (const auto& item : list.as_list()) {
    if (item.is_null()) continue;
    if (!first) out += ',';
    first = false;
    std::string text = scalar_to_text(item, item_shape, ts_format);
    if (item_shape && item_shape->type == ShapeType::String && (text.find(',') != std::string::npos || text.find('"') != std::string::npos)) {
      out += '"';
      for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    } else {
      out += text;
    }
  }
  return out;
}

bool has_body_members(const Shape& shape) {
  for (const auto& m : shape.members)
    if (m.location.empty()) return true;
  return false;
}

}  // namespace

struct RestCodec::Route {
  const Operation* operation = nullptr;
  std::vector<Segment> segments;
  std::vector<std::pair<std::string, std::optional<std::string>>> query_literals;
  std::vector<const MemberRef*> required_http;  // required header / querystring members
  int literal_segments = 0;
  bool greedy = false;
  bool deprioritized = false;
};

namespace {

// A host name against a suffix pattern, label by label ('*' matches within one label).
bool host_matches(std::string_view host, std::string_view pattern) {
  while (true) {
    size_t hd = host.find('.'), pd = pattern.find('.');
    std::string_view hl = host.substr(0, hd), pl = pattern.substr(0, pd);
    // Glob within the label: at most one '*' is enough for the names this serves.
    size_t star = pl.find('*');
    if (star == std::string_view::npos) {
      if (!equals_ignore_case(hl, pl)) return false;
    } else {
      std::string_view before = pl.substr(0, star), after = pl.substr(star + 1);
      if (hl.size() < before.size() + after.size() + 1 || !equals_ignore_case(hl.substr(0, before.size()), before) ||
          !equals_ignore_case(hl.substr(hl.size() - after.size()), after))
        return false;
    }
    if ((hd == std::string_view::npos) != (pd == std::string_view::npos)) return false;
    if (hd == std::string_view::npos) return true;
    host.remove_prefix(hd + 1);
    pattern.remove_prefix(pd + 1);
  }
}

}  // namespace

std::vector<std::string> default_s3_virtual_host_suffixes() {
  return {"localhost",        "s3.localhost",       "localhost.localstack.cloud", "s3.localhost.localstack.cloud",
          "s3.amazonaws.com", "s3.*.amazonaws.com", "s3-*.amazonaws.com",         "s3.dualstack.*.amazonaws.com"};
}

std::optional<std::string> virtual_host_bucket(std::string_view host, const std::vector<std::string>& suffixes) {
  if (host.empty() || host.front() == '[') return std::nullopt;  // IPv6 literal
  if (size_t colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // fully qualified "name."
  bool numeric = !host.empty();
  for (char c : host)
    if (!((c >= '0' && c <= '9') || c == '.')) numeric = false;
  if (numeric) return std::nullopt;
  for (const auto& s : suffixes)
    if (host_matches(host, s)) return std::nullopt;
  for (size_t dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1)) {
    if (dot == 0) continue;
    for (const auto& s : suffixes)
      if (!s.empty() && host_matches(host.substr(dot + 1), s)) return std::string(host.substr(0, dot));
  }
  return std::nullopt;
}

RestOptions default_rest_options(const ServiceModel& model) {
  RestOptions o;
  if (model.service_id == "S3") {
    o.xml_namespace = "http://s3.amazonaws.com/doc/2006-03-01/";
    o.virtual_host_suffixes = default_s3_virtual_host_suffixes();
    o.xml_declaration = true;
    o.s3_errors = true;
    o.root_suffix = "Result";
    o.blob_content_type = "binary/octet-stream";
    o.deprioritized_operations = {"GetBucketLifecycle", "PutBucketLifecycle", "GetBucketNotification", "PutBucketNotification",
                                  "ListDirectoryBuckets"};
    o.text_root_outputs = {{"GetBucketLocation", "LocationConstraint"}};
    // The root elements S3 writes (its Smithy model's @xmlName on the output structures).
    o.output_root_names = {
        {"CompleteMultipartUpload", "CompleteMultipartUploadResult"},
        {"CreateMultipartUpload", "InitiateMultipartUploadResult"},
        {"CreateSession", "CreateSessionResult"},
        {"DeleteObjects", "DeleteResult"},
        {"GetBucketAccelerateConfiguration", "AccelerateConfiguration"},
        {"GetBucketAcl", "AccessControlPolicy"},
        {"GetBucketCors", "CORSConfiguration"},
        {"GetBucketLifecycle", "LifecycleConfiguration"},
        {"GetBucketLifecycleConfiguration", "LifecycleConfiguration"},
        {"GetBucketLogging", "BucketLoggingStatus"},
        {"GetBucketNotification", "NotificationConfiguration"},
        {"GetBucketNotificationConfiguration", "NotificationConfiguration"},
        {"GetBucketRequestPayment", "RequestPaymentConfiguration"},
        {"GetBucketTagging", "Tagging"},
        {"GetBucketVersioning", "VersioningConfiguration"},
        {"GetBucketWebsite", "WebsiteConfiguration"},
        {"GetObjectAcl", "AccessControlPolicy"},
        {"GetObjectAttributes", "GetObjectAttributesResponse"},
        {"GetObjectTagging", "Tagging"},
        {"ListBucketAnalyticsConfigurations", "ListBucketAnalyticsConfigurationResult"},
        {"ListBucketIntelligentTieringConfigurations", "ListBucketIntelligentTieringConfigurationsOutput"},
        {"ListBucketInventoryConfigurations", "ListInventoryConfigurationsResult"},
        {"ListBucketMetricsConfigurations", "ListMetricsConfigurationsResult"},
        {"ListBuckets", "ListAllMyBucketsResult"},
        {"ListDirectoryBuckets", "ListAllMyDirectoryBucketsResult"},
        {"ListMultipartUploads", "ListMultipartUploadsResult"},
        {"ListObjects", "ListBucketResult"},
        {"ListObjectsV2", "ListBucketResult"},
        {"ListObjectVersions", "ListVersionsResult"},
        {"ListParts", "ListPartsResult"},
    };
  }
  return o;
}

RestCodec::RestCodec(const ServiceModel& model, std::string protocol) : RestCodec(model, std::move(protocol), default_rest_options(model)) {}

RestCodec::RestCodec(const ServiceModel& model, std::string protocol, RestOptions options)
    : model_(model), protocol_(std::move(protocol)), options_(std::move(options)), xml_(protocol_ == "rest-xml") {
  if (options_.xml_namespace.empty()) options_.xml_namespace = model.xml_namespace;
  for (const auto& [name, op] : model.operations) {
    Route r;
    r.operation = &op;
    std::string_view uri = op.request_uri;
    size_t q = uri.find('?');
    r.segments = parse_path_template(uri.substr(0, q));
    if (q != std::string_view::npos) {
      std::string_view literals = uri.substr(q + 1);
      while (!literals.empty()) {
        size_t amp = literals.find('&');
        std::string_view part = literals.substr(0, amp);
        literals = amp == std::string_view::npos ? std::string_view() : literals.substr(amp + 1);
        if (part.empty()) continue;
        size_t eq = part.find('=');
        if (eq == std::string_view::npos) {
          r.query_literals.emplace_back(percent_decode(part, true), std::nullopt);
        } else {
          r.query_literals.emplace_back(percent_decode(part.substr(0, eq), true), percent_decode(part.substr(eq + 1), true));
        }
      }
    }
    for (const auto& s : r.segments) {
      if (!s.is_label) ++r.literal_segments;
      if (s.greedy) r.greedy = true;
    }
    if (op.input)
      for (const auto& m : op.input->members)
        if (m.required && (m.location == "header" || m.location == "querystring")) r.required_http.push_back(&m);
    r.deprioritized = std::find(options_.deprioritized_operations.begin(), options_.deprioritized_operations.end(), name) !=
                      options_.deprioritized_operations.end();
    routes_.push_back(std::move(r));
  }
  // Deterministic iteration whatever the hash order of the model's operations.
  std::sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) { return a.operation->name < b.operation->name; });
}

RestCodec::~RestCodec() = default;

void RestCodec::request_error(const std::string& message) const {
  if (xml_) throw AwsError("InvalidArgument", message, 400);
  throw AwsError("SerializationException", message, 400);
}

std::string RestCodec::effective_path(const HttpRequest& request) const {
  std::string path = request.path.empty() ? std::string("/") : request.path;
  if (options_.virtual_host_suffixes.empty()) return path;
  auto bucket = virtual_host_bucket(request.header("host"), options_.virtual_host_suffixes);
  if (!bucket) return path;
  return path == "/" ? "/" + *bucket : "/" + *bucket + (path.front() == '/' ? path : "/" + path);
}

const RestCodec::Route* RestCodec::route_of(const Operation& operation) const {
  for (const auto& r : routes_)
    if (r.operation == &operation) return &r;
  return nullptr;
}

const Operation& RestCodec::resolve_operation(const HttpRequest& request) const {
  std::string path = effective_path(request);
  std::string_view rel = path;
  if (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  FormParams query = parse_form(request.query);
  auto has_query = [&](const std::string& key, const std::optional<std::string>& value) {
    for (const auto& [k, v] : query)
      if (k == key && (!value || v == *value)) return true;
    return false;
  };

  using Score = std::tuple<size_t, bool, size_t, size_t, int, bool, bool>;
  const Route* best = nullptr;
  Score best_score{};
  bool path_matched_other_method = false;
  std::vector<Capture> captures;
  for (const auto& r : routes_) {
    captures.clear();
    if (!match_segments(r.segments, 0, rel, 0, captures)) continue;
    if (r.operation->http_method != request.method) {
      path_matched_other_method = true;
      continue;
    }
    bool literals = true;
    for (const auto& [k, v] : r.query_literals)
      if (!has_query(k, v)) literals = false;
    if (!literals) continue;
    size_t present = 0;
    for (const MemberRef* m : r.required_http) {
      if (m->location == "header" ? request.has_header(lower(m->location_name)) : has_query(m->location_name, std::nullopt)) ++present;
    }
    // A bare query key the route names (S3's sub-resources: ?attributes, ?policy, ?uploads)
    // decides first: GET /bucket/key?attributes without its required header is a bad
    // GetObjectAttributes (answered as such), not a GetObject.
    size_t subresources = 0;
    for (const auto& [k, v] : r.query_literals)
      if (!v) ++subresources;
    Score score{subresources, present == r.required_http.size(), r.query_literals.size(), present, r.literal_segments, !r.greedy, !r.deprioritized};
    if (!best || score > best_score) {
      best = &r;
      best_score = score;
    }
  }
  if (best) return *best->operation;
  if (path_matched_other_method) throw AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405);
  if (xml_) throw AwsError("InvalidRequest", "No operation matches " + request.method + " " + path.substr(0, 256), 400);
  throw AwsError("UnknownOperationException", "No operation matches " + request.method + " " + path.substr(0, 256), 404);
}

Value RestCodec::decode_request(const HttpRequest& request, const Operation& operation) const {
  const Shape* input = operation.input;
  if (!input) return Value::map();
  const Route* route = route_of(operation);
  std::vector<Capture> captures;
  if (route) {
    std::string path = effective_path(request);
    std::string_view rel = path;
    if (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
    match_segments(route->segments, 0, rel, 0, captures);
  }
  FormParams query = parse_form(request.query);
  const auto& members = input->members;
  std::vector<Value> slots(members.size());

  auto convert_text = [&](std::string_view text, const MemberRef& m, const Shape* shape, std::string_view where) -> Value {
    if (!shape) return Value();
    if (m.json_value && shape->type == ShapeType::String) {
      auto decoded = base64_decode(text);
      if (!decoded) request_error("Invalid base64 JSON in " + std::string(where));
      try {
        return json_to_value(*decoded, nullptr);
      } catch (const AwsError&) {
        request_error("Invalid JSON in " + std::string(where));
      }
    }
    if (!is_scalar(*shape)) return Value();
    auto v = text_to_scalar(text, *shape);
    if (!v) request_error("Invalid value '" + std::string(text.substr(0, 128)) + "' for " + std::string(where));
    return std::move(*v);
  };

  // Query parameters bound to a member (for a querystring map, which takes the rest).
  auto bound_query_key = [&](std::string_view key) {
    for (const auto& m : members)
      if (m.location == "querystring" && m.shape && m.shape->type != ShapeType::Map && m.location_name == key) return true;
    if (route)
      for (const auto& [k, v] : route->query_literals)
        if (k == key) return true;
    return false;
  };

  for (size_t i = 0; i < members.size(); ++i) {
    const MemberRef& m = members[i];
    const Shape* shape = m.shape;
    if (!shape) continue;
    std::string_view wire = m.location_name.empty() ? std::string_view(m.name) : std::string_view(m.location_name);
    if (m.location == "uri") {
      for (const auto& c : captures) {
        if (c.label != wire && c.label != m.name) continue;
        slots[i] = convert_text(percent_decode(c.raw, false), m, shape, "URI label " + c.label);
        break;
      }
    } else if (m.location == "querystring") {
      if (shape->type == ShapeType::Map) {
        Value map = Value::map();
        const Shape* value_shape = shape->map_value.shape;
        std::unordered_map<std::string_view, size_t> index;  // key -> position in map
        for (const auto& [k, v] : query) {
          if (bound_query_key(k)) continue;
          auto [it, inserted] = index.emplace(k, map.as_map().size());
          if (value_shape && value_shape->type == ShapeType::List) {
            if (inserted) map.as_map().emplace_back(k, Value::list());
            map.as_map()[it->second].second.push(Value(v));
          } else if (inserted) {
            map.as_map().emplace_back(k, Value(v));
          }
        }
        if (map.size()) slots[i] = std::move(map);
      } else if (shape->type == ShapeType::List) {
        Value list = Value::list();
        for (const auto& [k, v] : query)
          if (k == wire) list.push(convert_text(v, m, shape->list_member.shape, "query parameter " + k));
        if (list.size()) slots[i] = std::move(list);
      } else {
        for (const auto& [k, v] : query) {
          if (k != wire) continue;
          slots[i] = convert_text(v, m, shape, "query parameter " + k);
          break;
        }
      }
    } else if (m.location == "header") {
      std::string name = lower(wire);
      if (!request.has_header(name)) continue;
      std::string_view text = request.header(name);
      if (shape->type == ShapeType::List) {
        Value list = Value::list();
        for (const auto& item : split_header_list(text)) list.push(convert_text(item, m, shape->list_member.shape, "header " + name));
        slots[i] = std::move(list);
      } else {
        slots[i] = convert_text(text, m, shape, "header " + name);
      }
    } else if (m.location == "headers") {
      std::string prefix = lower(wire);
      Value map = Value::map();
      for (const auto& [k, v] : request.headers)
        if (k.size() > prefix.size() && k.compare(0, prefix.size(), prefix) == 0) map.as_map().emplace_back(k.substr(prefix.size()), Value(v));
      if (map.size()) slots[i] = std::move(map);
    }
  }

  // The body: a payload member or the unbound members.
  const MemberRef* payload = input->payload.empty() ? nullptr : input->member(input->payload);
  if (payload && payload->shape) {
    size_t index = static_cast<size_t>(payload - members.data());
    ShapeType t = payload->shape->type;
    if (t == ShapeType::Blob) {
      if (!request.body.empty() || payload->required) slots[index] = Value(Blob{request.body});
    } else if (t == ShapeType::String) {
      if (!request.body.empty() || payload->required) slots[index] = Value(request.body);
    } else if (!request.body.empty()) {
      if (xml_) {
        XmlReadOptions ro;
        ro.skip_http_members = false;
        if (payload->shape->type == ShapeType::Structure) slots[index] = parse_xml_body(request.body, *payload->shape, ro);
      } else {
        slots[index] = json_to_value(request.body, payload->shape);
      }
    }
  } else if (!request.body.empty() && has_body_members(*input)) {
    Value body;
    if (xml_) {
      body = parse_xml_body(request.body, *input, XmlReadOptions{});
    } else if (request.body.find_first_not_of(" \t\r\n") != std::string::npos) {
      body = json_to_value(request.body, input);
      if (!body.is_map()) throw AwsError("SerializationException", "Request body must be a JSON object", 400);
    }
    if (body.is_map()) {
      for (auto& [k, v] : body.as_map()) {
        for (size_t i = 0; i < members.size(); ++i) {
          if (members[i].name != k || !members[i].location.empty()) continue;
          slots[i] = std::move(v);
          break;
        }
      }
    }
  }

  Value out = Value::map();
  for (size_t i = 0; i < members.size(); ++i)
    if (!slots[i].is_null()) out.as_map().emplace_back(members[i].name, std::move(slots[i]));
  return out;
}

void RestCodec::encode_response(const Value& output, const Operation& operation, const ResponseContext& context,
                                HttpResponse& response) const {
  response.status = operation.success_status;
  response.body.clear();
  if (options_.s3_errors) {
    response.set_header("x-amz-request-id", context.request_id);
    response.set_header("x-amz-id-2", context.request_id);
  } else {
    response.set_header("x-amzn-RequestId", context.request_id);
  }
  const Shape* shape = operation.output;
  if (!shape) return;
  auto has_content_type = [&] {
    for (const auto& [k, v] : response.headers)
      if (equals_ignore_case(k, "content-type")) return true;
    return false;
  };

  // HTTP-bound members.
  for (const auto& m : shape->members) {
    const Value* v = output.get(m.name);
    if (!v || v->is_null() || !m.shape) continue;
    std::string_view wire = m.location_name.empty() ? std::string_view(m.name) : std::string_view(m.location_name);
    if (m.location == "header") {
      std::string text;
      std::string_view ts = effective_timestamp_format(&m, m.shape, "rfc822");
      if (m.json_value) {
        text = base64_encode(value_to_json(*v, nullptr));
      } else if (m.shape->type == ShapeType::List && v->is_list()) {
        if (v->as_list().empty()) continue;
        text = join_header_list(*v, *m.shape, effective_timestamp_format(&m.shape->list_member, m.shape->list_member.shape, "rfc822"));
      } else {
        text = scalar_to_text(*v, m.shape, ts);
      }
      response.set_header(std::string(wire), std::move(text));
    } else if (m.location == "headers") {
      if (!v->is_map()) continue;
      for (const auto& [k, item] : v->as_map())
        if (!item.is_null()) response.set_header(std::string(wire) + k, scalar_to_text(item, nullptr, "rfc822"));
    } else if (m.location == "statusCode") {
      if (v->kind() == Value::Kind::Int || v->kind() == Value::Kind::Double) response.status = static_cast<int>(v->as_int());
    }
  }

  const MemberRef* payload = shape->payload.empty() ? nullptr : shape->member(shape->payload);
  if (payload && payload->shape) {
    const Value* v = output.get(payload->name);
    ShapeType t = payload->shape->type;
    if (t == ShapeType::Blob || t == ShapeType::String) {
      if (v && v->kind() == Value::Kind::Blob) response.body = v->as_blob().bytes;
      else if (v && v->is_string()) response.body = v->as_string();
      if (v && !v->is_null() && !has_content_type()) response.set_header("Content-Type", options_.blob_content_type);
      return;
    }
    if (!v || v->is_null()) return;
    if (xml_) {
      if (options_.xml_declaration) response.body += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
      XmlWriteOptions wo;
      wo.skip_http_members = false;
      std::string_view ns = !payload->xml_namespace_uri.empty() ? std::string_view(payload->xml_namespace_uri) : std::string_view(options_.xml_namespace);
      std::string_view root = effective_name(payload, payload->name);
      if (payload->shape->type == ShapeType::Structure) {
        write_xml_structure(response.body, *v, *payload->shape, root, ns, wo);
      } else {
        write_xml_member(response.body, *v, payload->shape, payload, root, wo);
      }
      if (!has_content_type()) response.set_header("Content-Type", "application/xml");
    } else {
      value_to_json(*v, payload->shape, response.body);
      if (!has_content_type()) response.set_header("Content-Type", "application/json");
    }
    return;
  }

  if (!has_body_members(*shape)) return;
  if (xml_) {
    if (options_.xml_declaration) response.body += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    auto text_root = options_.text_root_outputs.find(operation.name);
    if (text_root != options_.text_root_outputs.end()) {
      const MemberRef* m = shape->member(text_root->second);
      const Value* v = output.get(text_root->second);
      std::string root(m ? effective_name(m, m->name) : std::string_view(text_root->second));
      response.body += '<' + root;
      if (!options_.xml_namespace.empty()) response.body += " xmlns=\"" + xml_escape(options_.xml_namespace) + '"';
      std::string text = v && m ? scalar_to_text(*v, m->shape, effective_timestamp_format(m, m->shape, "iso8601")) : std::string();
      if (text.empty()) {
        response.body += "/>";
      } else {
        response.body += '>' + xml_escape(text) + "</" + root + '>';
      }
    } else {
      auto it = options_.output_root_names.find(operation.name);
      std::string root = it != options_.output_root_names.end() ? it->second
                         : !shape->location_name.empty()       ? shape->location_name
                                                               : operation.name + options_.root_suffix;
      write_xml_structure(response.body, output.is_map() ? output : Value::map(), *shape, root, options_.xml_namespace, XmlWriteOptions{});
    }
    if (!has_content_type()) response.set_header("Content-Type", "application/xml");
  } else {
    Value body = Value::map();
    if (output.is_map())
      for (const auto& [k, v] : output.as_map()) {
        const MemberRef* m = shape->member(k);
        if (m && !m->location.empty()) continue;
        body.as_map().emplace_back(k, v);
      }
    value_to_json(body, shape, response.body);
    if (!has_content_type()) response.set_header("Content-Type", "application/json");
  }
}

void RestCodec::encode_error(const AwsError& error, const ResponseContext& context, HttpResponse& response) const {
  const Shape* shape = model_.error_shape(error.code());
  response.status = error.http_status();
  if (shape && error.http_status() == 400 && shape->http_status != 400) response.status = shape->http_status;
  bool sender = error.sender_fault() && response.status < 500;
  std::string code = shape ? shape->error_code : error.code();
  std::string& out = response.body;
  out.clear();
  if (xml_) {
    response.set_header("Content-Type", "application/xml");
    if (options_.s3_errors) {
      response.set_header("x-amz-request-id", context.request_id);
      response.set_header("x-amz-id-2", context.request_id);
      out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>";
      append_xml_element(out, "Code", code);
      append_xml_element(out, "Message", error.message());
      for (const auto& [name, value] : error.details()) append_xml_element(out, name, value);
      append_xml_element(out, "RequestId", context.request_id);
      append_xml_element(out, "HostId", context.request_id);
      out += "</Error>";
    } else {
      response.set_header("x-amzn-RequestId", context.request_id);
      out += "<ErrorResponse";
      if (!options_.xml_namespace.empty()) out += " xmlns=\"" + xml_escape(options_.xml_namespace) + '"';
      out += "><Error>";
      append_xml_element(out, "Type", sender ? "Sender" : "Receiver");
      append_xml_element(out, "Code", code);
      append_xml_element(out, "Message", error.message());
      out += "</Error>";
      append_xml_element(out, "RequestId", context.request_id);
      out += "</ErrorResponse>";
    }
    return;
  }
  response.set_header("Content-Type", "application/json");
  response.set_header("x-amzn-RequestId", context.request_id);
  response.set_header("X-Amzn-ErrorType", code);
  out += "{\"__type\":";
  append_json_string(out, code);
  out += shape && shape->member("Message") ? ",\"Message\":" : ",\"message\":";
  append_json_string(out, error.message());
  out += '}';
}

}  // namespace vigil::protocol
