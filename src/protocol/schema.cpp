#include "protocol/schema.h"

#include <simdjson.h>

#include <mutex>
#include <stdexcept>

namespace vigil::protocol {

// Provided by the build (embedded_schemas.cpp, generated from schema/*.json).
struct EmbeddedSchema {
  const char* service;
  const char* json;
  size_t size;
};
extern const EmbeddedSchema kEmbeddedSchemas[];
extern const size_t kEmbeddedSchemaCount;

const MemberRef* Shape::member(std::string_view member_name) const {
  for (const auto& m : members)
    if (m.name == member_name) return &m;
  return nullptr;
}

const MemberRef* Shape::member_by_wire_name(std::string_view wire) const {
  for (const auto& m : members)
    if (m.wire_name() == wire) return &m;
  return nullptr;
}

const Operation* ServiceModel::operation(std::string_view name) const {
  auto it = operations.find(std::string(name));
  return it == operations.end() ? nullptr : &it->second;
}

const Shape* ServiceModel::shape(std::string_view name) const {
  auto it = shapes.find(std::string(name));
  return it == shapes.end() ? nullptr : it->second.get();
}

const Shape* ServiceModel::error_shape(std::string_view code) const {
  // By shape name first, else by wire code (query protocols); ties go to the smallest name so
  // the answer does not depend on hash order. O(shapes): only error responses look here.
  if (const Shape* s = shape(code); s && s->is_exception) return s;
  const Shape* best = nullptr;
  for (const auto& [name, candidate] : shapes)
    if (candidate->is_exception && candidate->error_code == code && (!best || name < best->name)) best = candidate.get();
  return best;
}

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

std::string get_string(object o, std::string_view key) {
  std::string_view v;
  if (o[key].get_string().get(v) == simdjson::SUCCESS) return std::string(v);
  return {};
}

bool get_bool(object o, std::string_view key) {
  bool v = false;
  if (o[key].get_bool().get(v) == simdjson::SUCCESS) return v;
  return false;
}

std::optional<double> get_number(object o, std::string_view key) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return std::nullopt;
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS) return d;
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  uint64_t u;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  return std::nullopt;
}

ShapeType parse_type(std::string_view t) {
  if (t == "structure") return ShapeType::Structure;
  if (t == "list") return ShapeType::List;
  if (t == "map") return ShapeType::Map;
  if (t == "string") return ShapeType::String;
  if (t == "integer") return ShapeType::Integer;
  if (t == "long") return ShapeType::Long;
  if (t == "float") return ShapeType::Float;
  if (t == "double") return ShapeType::Double;
  if (t == "boolean") return ShapeType::Boolean;
  if (t == "blob") return ShapeType::Blob;
  if (t == "timestamp") return ShapeType::Timestamp;
  if (t == "bigdecimal") return ShapeType::BigDecimal;
  if (t == "document") return ShapeType::Document;
  throw std::runtime_error("unknown shape type " + std::string(t));
}

class ModelLoader {
 public:
  explicit ModelLoader(ServiceModel& model) : model_(model) {}

  void load(object root) {
    object meta;
    if (root["metadata"].get_object().get(meta) != simdjson::SUCCESS) throw std::runtime_error("model without metadata");
    model_.service = get_string(meta, "vigilService");
    model_.protocol = get_string(meta, "protocol");
    simdjson::dom::array protocols;
    if (meta["protocols"].get_array().get(protocols) == simdjson::SUCCESS)
      for (element p : protocols) model_.protocols.emplace_back(std::string_view(p.get_string()));
    if (model_.protocols.empty()) model_.protocols.push_back(model_.protocol);
    model_.json_version = get_string(meta, "jsonVersion");
    model_.target_prefix = get_string(meta, "targetPrefix");
    model_.signing_name = get_string(meta, "signingName");
    model_.endpoint_prefix = get_string(meta, "endpointPrefix");
    if (model_.signing_name.empty()) model_.signing_name = model_.endpoint_prefix;
    model_.api_version = get_string(meta, "apiVersion");
    model_.xml_namespace = get_string(meta, "xmlNamespace");
    model_.service_id = get_string(meta, "serviceId");
    model_.service_full_name = get_string(meta, "serviceFullName");

    object shapes = root["shapes"].get_object();
    // Two passes: create every shape first so references can point at them.
    for (auto field : shapes) {
      auto shape = std::make_unique<Shape>();
      shape->name = std::string(field.key);
      model_.shapes.emplace(shape->name, std::move(shape));
    }
    for (auto field : shapes) fill_shape(*model_.shapes.at(std::string(field.key)), field.value.get_object());

    object operations = root["operations"].get_object();
    for (auto field : operations) fill_operation(std::string(field.key), field.value.get_object());
  }

 private:
  const Shape* resolve(std::string_view name) {
    auto it = model_.shapes.find(std::string(name));
    if (it == model_.shapes.end()) throw std::runtime_error("unknown shape " + std::string(name));
    return it->second.get();
  }

  MemberRef parse_ref(std::string name, object o) {
    MemberRef ref;
    ref.name = std::move(name);
    ref.shape = resolve(get_string(o, "shape"));
    ref.location = get_string(o, "location");
    ref.location_name = get_string(o, "locationName");
    ref.query_name = get_string(o, "queryName");
    ref.timestamp_format = get_string(o, "timestampFormat");
    ref.flattened = get_bool(o, "flattened");
    ref.xml_attribute = get_bool(o, "xmlAttribute");
    ref.idempotency_token = get_bool(o, "idempotencyToken");
    ref.json_value = get_bool(o, "jsonvalue");
    ref.host_label = get_bool(o, "hostLabel");
    ref.event_payload = get_bool(o, "eventpayload");
    object ns;
    if (o["xmlNamespace"].get_object().get(ns) == simdjson::SUCCESS) {
      ref.xml_namespace_uri = get_string(ns, "uri");
      ref.xml_namespace_prefix = get_string(ns, "prefix");
    }
    return ref;
  }

  void fill_shape(Shape& shape, object o) {
    shape.type = parse_type(get_string(o, "type"));
    shape.min = get_number(o, "min");
    shape.max = get_number(o, "max");
    shape.pattern = get_string(o, "pattern");
    shape.timestamp_format = get_string(o, "timestampFormat");
    shape.payload = get_string(o, "payload");
    shape.location_name = get_string(o, "locationName");
    shape.flattened = get_bool(o, "flattened");
    shape.streaming = get_bool(o, "streaming");
    shape.is_union = get_bool(o, "union");
    shape.is_exception = get_bool(o, "exception");
    shape.fault = get_bool(o, "fault");
    shape.document = get_bool(o, "document");
    object ns;
    if (o["xmlNamespace"].get_object().get(ns) == simdjson::SUCCESS) shape.xml_namespace_uri = get_string(ns, "uri");
    simdjson::dom::array enums;
    if (o["enum"].get_array().get(enums) == simdjson::SUCCESS)
      for (element e : enums) shape.enum_values.emplace_back(std::string_view(e.get_string()));

    shape.error_code = shape.name;
    object error;
    if (o["error"].get_object().get(error) == simdjson::SUCCESS) {
      std::string code = get_string(error, "code");
      if (!code.empty()) shape.error_code = code;
      if (auto status = get_number(error, "httpStatusCode")) shape.http_status = static_cast<int>(*status);
      shape.sender_fault = get_bool(error, "senderFault");
    }
    if (shape.fault && shape.http_status == 400) shape.http_status = 500;

    if (shape.type == ShapeType::Structure) {
      std::vector<std::string> required;
      simdjson::dom::array req;
      if (o["required"].get_array().get(req) == simdjson::SUCCESS)
        for (element r : req) required.emplace_back(std::string_view(r.get_string()));
      object members;
      if (o["members"].get_object().get(members) == simdjson::SUCCESS) {
        for (auto field : members) {
          MemberRef ref = parse_ref(std::string(field.key), field.value.get_object());
          for (const auto& r : required)
            if (r == ref.name) ref.required = true;
          shape.members.push_back(std::move(ref));
        }
      }
    } else if (shape.type == ShapeType::List) {
      shape.list_member = parse_ref("", o["member"].get_object());
    } else if (shape.type == ShapeType::Map) {
      shape.map_key = parse_ref("", o["key"].get_object());
      shape.map_value = parse_ref("", o["value"].get_object());
    }
  }

  void fill_operation(std::string name, object o) {
    Operation op;
    op.name = name;
    object http;
    if (o["http"].get_object().get(http) == simdjson::SUCCESS) {
      op.http_method = get_string(http, "method");
      op.request_uri = get_string(http, "requestUri");
      if (auto code = get_number(http, "responseCode")) op.success_status = static_cast<int>(*code);
    }
    object input;
    if (o["input"].get_object().get(input) == simdjson::SUCCESS) {
      op.input = resolve(get_string(input, "shape"));
      op.input_location_name = get_string(input, "locationName");
      object ns;
      if (input["xmlNamespace"].get_object().get(ns) == simdjson::SUCCESS) op.input_xml_namespace = get_string(ns, "uri");
    }
    object output;
    if (o["output"].get_object().get(output) == simdjson::SUCCESS) {
      op.output = resolve(get_string(output, "shape"));
      op.result_wrapper = get_string(output, "resultWrapper");
    }
    simdjson::dom::array errors;
    if (o["errors"].get_array().get(errors) == simdjson::SUCCESS)
      for (element e : errors) op.errors.push_back(resolve(get_string(e.get_object(), "shape")));
    op.unsigned_allowed = get_string(o, "authtype") == "none";
    model_.operations.emplace(std::move(name), std::move(op));
  }

  ServiceModel& model_;
};

}  // namespace

std::unique_ptr<ServiceModel> load_service_model(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root); err) throw std::runtime_error(std::string("model JSON: ") + simdjson::error_message(err));
  auto model = std::make_unique<ServiceModel>();
  try {
    ModelLoader(*model).load(root.get_object());
  } catch (const simdjson::simdjson_error& e) {
    throw std::runtime_error(std::string("model structure: ") + e.what());
  }
  return model;
}

const ServiceModel* embedded_model(std::string_view service) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::unique_ptr<ServiceModel>> loaded;
  std::lock_guard lock(mutex);
  auto it = loaded.find(std::string(service));
  if (it != loaded.end()) return it->second.get();
  for (size_t i = 0; i < kEmbeddedSchemaCount; ++i) {
    if (service == kEmbeddedSchemas[i].service) {
      auto model = load_service_model(std::string_view(kEmbeddedSchemas[i].json, kEmbeddedSchemas[i].size));
      const ServiceModel* raw = model.get();
      loaded.emplace(std::string(service), std::move(model));
      return raw;
    }
  }
  return nullptr;
}

}  // namespace vigil::protocol
