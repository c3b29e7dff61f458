#include "services/cloudwatch/dashboard_body.h"

#include <simdjson.h>

#include <cmath>
#include <optional>

namespace vigil::cloudwatch {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr size_t kMaxWidgets = 500;  // "an array of between 0 and 500 widget objects"

struct Checker {
  std::vector<DashboardValidationMessage> out;

  void add(std::string path, std::string msg) { out.push_back({std::move(path), std::move(msg)}); }

  static bool is_number(element e) {
    auto t = e.type();
    return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
  }
  static bool is_integer(element e, int64_t& v) {
    switch (e.type()) {
      case element_type::INT64: v = int64_t(e); return true;
      case element_type::UINT64: {
        uint64_t u = uint64_t(e);
        v = u > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(u);
        return true;
      }
      case element_type::DOUBLE: {
        double d = double(e);
        if (std::floor(d) != d || std::fabs(d) > 9e18) return false;
        v = static_cast<int64_t>(d);
        return true;
      }
      default: return false;
    }
  }

  // Optional integer field with bounds; returns the value when present and valid.
  std::optional<int64_t> int_field(simdjson::dom::object obj, std::string_view key, const std::string& base,
                                   int64_t lo, std::optional<int64_t> hi) {
    element e;
    if (obj.at_key(key).get(e)) return std::nullopt;
    std::string path = base + "/" + std::string(key);
    int64_t v;
    if (!is_integer(e, v)) {
      add(path, "Should be integer");
      return std::nullopt;
    }
    if (v < lo) {
      add(path, "Should be >= " + std::to_string(lo));
      return std::nullopt;
    }
    if (hi && v > *hi) {
      add(path, "Should be <= " + std::to_string(*hi));
      return std::nullopt;
    }
    return v;
  }

  void optional_string(simdjson::dom::object obj, std::string_view key, const std::string& base) {
    element e;
    if (obj.at_key(key).get(e)) return;
    if (e.type() != element_type::STRING) add(base + "/" + std::string(key), "Should be string");
  }

  // Required property of the given JSON type; returns it when present and well-typed.
  bool require(simdjson::dom::object obj, std::string_view key, const std::string& base, element_type type,
               element& e) {
    if (obj.at_key(key).get(e)) {
      add(base, "Should have required property '" + std::string(key) + "'");
      return false;
    }
    if (e.type() != type) {
      add(base + "/" + std::string(key), type == element_type::ARRAY    ? "Should be array"
                                          : type == element_type::OBJECT ? "Should be object"
                                                                         : "Should be string");
      return false;
    }
    return true;
  }

  // Each metric is an array of strings (namespace, name, dimension pairs, or "." / ".." repeats)
  // optionally ending with a rendering-options object.
  void metrics_array(simdjson::dom::array metrics, const std::string& base) {
    if (metrics.size() > 500) add(base, "Should NOT have more than 500 items");
    size_t i = 0;
    for (element metric : metrics) {
      std::string mp = base + "/" + std::to_string(i++);
      simdjson::dom::array parts;
      if (metric.get_array().get(parts)) {
        add(mp, "Should be array");
        continue;
      }
      size_t n = parts.size(), j = 0;
      if (n == 0) add(mp, "Should NOT have fewer than 1 items");
      for (element part : parts) {
        bool last = j + 1 == n;
        if (part.type() == element_type::OBJECT) {
          if (!last) add(mp + "/" + std::to_string(j), "Invalid metric field type, only \"String\" type is allowed");
        } else if (part.type() != element_type::STRING) {
          add(mp + "/" + std::to_string(j), "Invalid metric field type, only \"String\" type is allowed");
        }
        ++j;
      }
    }
  }

  void widget(element w, size_t index) {
    const std::string base = "/widgets/" + std::to_string(index);
    simdjson::dom::object obj;
    if (w.get_object().get(obj)) {
      add(base, "Should be object");
      return;
    }
    element type_el;
    std::string_view type;
    if (require(obj, "type", base, element_type::STRING, type_el)) {
      type = std::string_view(type_el);
      if (type != "metric" && type != "text" && type != "log" && type != "alarm" && type != "explorer" &&
          type != "custom") {
        add(base + "/type", "Should be equal to one of the allowed values");
        type = {};
      }
    }
    auto x = int_field(obj, "x", base, 0, 23);
    int_field(obj, "y", base, 0, std::nullopt);
    auto width = int_field(obj, "width", base, 1, 24);
    int_field(obj, "height", base, 1, 1000);
    if (x && *x + width.value_or(6) > 24)  // the grid is 24 columns; width defaults to 6
      add(base, "Widget must fit in the 24-column grid: x + width should be <= 24");

    element props_el;
    if (type.empty()) return;
    if (!require(obj, "properties", base, element_type::OBJECT, props_el)) return;
    simdjson::dom::object props = props_el.get_object().value();
    const std::string pp = base + "/properties";
    element e;
    if (type == "metric") {
      // Needs metrics, or an alarm annotation ("annotations": {"alarms": [...]}) to graph an alarm.
      bool has_alarm_annotation = false;
      element ann, alarms;
      if (!props.at_key("annotations").get(ann) && ann.type() == element_type::OBJECT &&
          !ann.get_object().value().at_key("alarms").get(alarms))
        has_alarm_annotation = true;
      if (!props.at_key("metrics").get(e)) {
        if (e.type() != element_type::ARRAY) add(pp + "/metrics", "Should be array");
        else metrics_array(e.get_array().value(), pp + "/metrics");
      } else if (!has_alarm_annotation) {
        add(pp, "Should have required property 'metrics'");
      }
      optional_string(props, "region", pp);
      optional_string(props, "title", pp);
      optional_string(props, "view", pp);
      element period;
      if (!props.at_key("period").get(period) && !is_number(period)) add(pp + "/period", "Should be integer");
    } else if (type == "text") {
      require(props, "markdown", pp, element_type::STRING, e);
    } else if (type == "log") {
      require(props, "query", pp, element_type::STRING, e);
      optional_string(props, "region", pp);
    } else if (type == "alarm") {
      if (require(props, "alarms", pp, element_type::ARRAY, e)) {
        simdjson::dom::array arr = e.get_array().value();
        if (arr.size() == 0) add(pp + "/alarms", "Should NOT have fewer than 1 items");
        if (arr.size() > 100) add(pp + "/alarms", "Should NOT have more than 100 items");
        size_t i = 0;
        for (element a : arr) {
          if (a.type() != element_type::STRING) add(pp + "/alarms/" + std::to_string(i), "Should be string");
          ++i;
        }
      }
    } else if (type == "explorer") {
      require(props, "metrics", pp, element_type::ARRAY, e);
    } else if (type == "custom") {
      require(props, "endpoint", pp, element_type::STRING, e);
    }
  }
};

}  // namespace

std::vector<DashboardValidationMessage> validate_dashboard_body(std::string_view body) {
  // One parser per call: PutDashboard is rare, and a shared parser would need locking.
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  element root;
  if (parser.parse(padded).get(root) || root.type() != element_type::OBJECT)
    return {{"", std::string(kDashboardNotJson)}};
  Checker c;
  simdjson::dom::object obj = root.get_object().value();
  element widgets;
  if (c.require(obj, "widgets", "", element_type::ARRAY, widgets)) {
    simdjson::dom::array arr = widgets.get_array().value();
    if (arr.size() > kMaxWidgets) c.add("/widgets", "Should NOT have more than 500 items");
    size_t i = 0;
    for (element w : arr) c.widget(w, i++);
  }
  c.optional_string(obj, "start", "");
  c.optional_string(obj, "end", "");
  element po;
  if (!obj.at_key("periodOverride").get(po)) {
    if (po.type() != element_type::STRING ||
        (std::string_view(po) != "auto" && std::string_view(po) != "inherit"))
      c.add("/periodOverride", "Should be equal to one of the allowed values");
  }
  element vars;
  if (!obj.at_key("variables").get(vars) && vars.type() != element_type::ARRAY) c.add("/variables", "Should be array");
  return std::move(c.out);
}

std::string dashboard_invalid_message(const std::vector<DashboardValidationMessage>& messages) {
  auto esc = [](std::string_view s) {
    std::string o;
    for (char ch : s) {
      if (ch == '"' || ch == '\\') o += '\\';
      o += ch;
    }
    return o;
  };
  std::string out = "The dashboard body is invalid, there are " + std::to_string(messages.size()) +
                    " validation errors:\n[";
  for (size_t i = 0; i < messages.size(); ++i) {
    out += i ? ",\n" : "\n";
    out += "  {\n    \"dataPath\": \"" + esc(messages[i].data_path) + "\",\n    \"message\": \"" +
           esc(messages[i].message) + "\"\n  }";
  }
  out += "\n]";
  return out;
}

}  // namespace vigil::cloudwatch
