#include "services/cloudtrail/record_parameters.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/encoding.h"
#include "protocol/json_codec.h"
#include "protocol/schema.h"

namespace vigil::cloudtrail {

std::string java_medium_date(double epoch_seconds) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = static_cast<time_t>(std::floor(epoch_seconds));
  struct tm tm;
  gmtime_r(&t, &tm);
  int hour = tm.tm_hour % 12;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %d, %d, %d:%02d:%02d %s", kMonths[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900, hour == 0 ? 12 : hour,
                tm.tm_min, tm.tm_sec, tm.tm_hour < 12 ? "AM" : "PM");
  return buf;
}

namespace {

void append_member_name(std::string_view name, std::string& out) {
  // JSON-escaped like any string, then its first letter lowercased in place (names are ASCII
  // letters first, so the escape leaves it right after the quote): no copy of the name.
  const size_t at = out.size();
  append_json_string(out, name);
  if (!name.empty()) out[at + 1] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[at + 1])));
}

void append_value(const Value& v, const protocol::Shape* shape, std::string& out) {
  const bool timestamp = v.kind() == Value::Kind::Timestamp ||
                         (shape && shape->type == protocol::ShapeType::Timestamp && (v.kind() == Value::Kind::Int || v.kind() == Value::Kind::Double));
  if (timestamp) return append_json_string(out, java_medium_date(v.as_double()));
  switch (v.kind()) {
    case Value::Kind::List: {
      const protocol::Shape* item = shape && shape->type == protocol::ShapeType::List ? shape->list_member.shape : nullptr;
      out += '[';
      bool first = true;
      for (const Value& x : v.as_list()) {
        if (!first) out += ',';
        first = false;
        append_value(x, item, out);
      }
      out += ']';
      return;
    }
    case Value::Kind::Map: {
      const bool structure = shape && shape->type == protocol::ShapeType::Structure && !shape->document;
      const protocol::Shape* map_value = shape && shape->type == protocol::ShapeType::Map ? shape->map_value.shape : nullptr;
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.as_map()) {
        if (!first) out += ',';
        first = false;
        const protocol::Shape* item_shape = map_value;
        if (structure) {
          const protocol::MemberRef* m = shape->member(key);
          item_shape = m ? m->shape : nullptr;
          append_member_name(key, out);
        } else {
          append_json_string(out, key);
        }
        out += ':';
        append_value(item, item_shape, out);
      }
      out += '}';
      return;
    }
    default:
      return protocol::value_to_json(v, shape, out, /*keep_nulls=*/true);
  }
}

}  // namespace

void append_record_parameters(const Value& value, const protocol::Shape* shape, std::string& out) { append_value(value, shape, out); }

}  // namespace vigil::cloudtrail
