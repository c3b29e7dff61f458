#include "services/cloudtrail/lake_selectors.h"

#include <string>
#include <string_view>
#include <vector>

#include "core/aws_error.h"

namespace vigil::cloudtrail {

namespace {

constexpr const char* kFields[] = {"eventCategory", "eventSource", "eventName", "readOnly", "eventType", "resources.type", "resources.ARN", "userIdentity.arn", "errorCode"};
constexpr const char* kPositive[] = {"Equals", "StartsWith", "EndsWith"};
constexpr const char* kNegative[] = {"NotEquals", "NotStartsWith", "NotEndsWith"};

AwsError invalid(const std::string& message) { return AwsError("InvalidEventSelectorsException", message, 400); }

bool condition_holds(std::string_view op, std::string_view value, std::string_view operand) {
  if (op == "Equals" || op == "NotEquals") return value == operand;
  if (op == "StartsWith" || op == "NotStartsWith") return value.substr(0, operand.size()) == operand;
  return value.size() >= operand.size() && value.substr(value.size() - operand.size()) == operand;
}

// The record's values of a selector field (empty when it has none).
std::vector<std::string_view> field_values(std::string_view field, const Value& record) {
  std::vector<std::string_view> out;
  if (field == "readOnly") {
    const Value* v = record.get("readOnly");
    if (v && v->kind() == Value::Kind::Bool) out.push_back(v->as_bool() ? "true" : "false");
  } else if (field == "resources.type" || field == "resources.ARN") {
    if (const Value* resources = record.get("resources"); resources && resources->is_list())
      for (const Value& r : resources->as_list())
        if (r.is_map()) out.push_back(r.str(field == "resources.type" ? "type" : "ARN"));
  } else if (field == "userIdentity.arn") {
    if (const Value* identity = record.get("userIdentity"); identity && identity->is_map()) out.push_back(identity->str("arn"));
  } else if (const Value* v = record.get(field); v && v->is_string()) {
    out.push_back(v->as_string());
  }
  return out;
}

bool field_selector_matches(const Value& fs, const Value& record) {
  std::string_view field = fs.str("Field");
  for (std::string_view value : field_values(field, record)) {
    bool has_positive = false, positive = false, negative = false;
    for (const char* op : kPositive)
      if (const Value* operands = fs.get(op); operands && operands->is_list()) {
        has_positive = true;
        for (const Value& o : operands->as_list()) positive = positive || (o.is_string() && condition_holds(op, value, o.as_string()));
      }
    for (const char* op : kNegative)
      if (const Value* operands = fs.get(op); operands && operands->is_list())
        for (const Value& o : operands->as_list()) negative = negative || (o.is_string() && condition_holds(op, value, o.as_string()));
    if ((!has_positive || positive) && !negative) return true;
  }
  return false;
}

}  // namespace

namespace {

enum class Owner { EventDataStore, Trail };

// The values of one operator of a field selector (empty when absent).
const std::vector<Value>& operands(const Value& fs, const char* op) {
  static const std::vector<Value> none;
  const Value* v = fs.get(op);
  return v && v->is_list() ? v->as_list() : none;
}

void validate_selectors(const Value& selectors, Owner owner) {
  const bool trail = owner == Owner::Trail;
  const char* owner_name = trail ? "a trail" : "an event data store";
  if (!selectors.is_list() || selectors.size() == 0) throw invalid("AdvancedEventSelectors must contain at least one selector.");
  size_t conditions = 0;
  for (const Value& selector : selectors.as_list()) {
    const Value* fields = selector.get("FieldSelectors");
    if (!fields || !fields->is_list() || fields->size() == 0) throw invalid("Each advanced event selector must contain at least one field selector.");
    std::string category;
    std::vector<std::string> seen;
    for (const Value& fs : fields->as_list()) {
      std::string field(fs.str("Field"));
      bool known = false;
      for (const char* f : kFields) known = known || field == f;
      if (!known && (field == "sessionCredentialFromConsole" || field == "vpcEndpointId"))
        throw AwsError("UnsupportedOperationException", "Vigil does not support the " + field + " field in advanced event selectors yet (see docs/coverage.md).", 400);
      if (!known) throw invalid("Field " + field + " is not valid for an advanced event selector of " + owner_name + ".");
      for (const std::string& s : seen)
        if (s == field) throw invalid("Field " + field + " appears more than once in an advanced event selector.");
      seen.push_back(field);
      size_t operators = 0;
      for (const char* op : kPositive) operators += fs.has(op) ? 1 : 0;
      for (const char* op : kNegative) operators += fs.has(op) ? 1 : 0;
      if (operators == 0) throw invalid("Field selector " + field + " must have at least one condition.");
      for (const char* op : kPositive) conditions += operands(fs, op).size();
      for (const char* op : kNegative) conditions += operands(fs, op).size();
      const std::vector<Value>& equals = operands(fs, "Equals");
      if (field == "eventCategory") {
        if (equals.size() != 1 || operators != 1)
          throw invalid("The eventCategory field selector must use Equals with exactly one value.");
        category = std::string(equals[0].is_string() ? equals[0].as_string() : "");
      }
      if (field == "readOnly") {
        if (operators != 1 || equals.size() != 1 || !equals[0].is_string() ||
            (equals[0].as_string() != "true" && equals[0].as_string() != "false"))
          throw invalid("The readOnly field selector must use Equals with true or false.");
      }
      if (field == "resources.type" && (operators != 1 || equals.empty()))
        throw invalid("The resources.type field selector must use Equals.");
      if (field == "resources.type") {
        if (trail && equals.size() != 1) throw invalid("The resources.type field selector of a trail must use Equals with exactly one value.");
        // AWS's resource types (AWS::S3::Object, AWS::DynamoDB::Stream, ...): any of that form
        // is taken, as the list grows; matching is by the record's resources.
        for (const Value& v : equals) {
          std::string_view type = v.is_string() ? v.as_string() : std::string_view();
          const size_t second = type.rfind("::");
          if (type.rfind("AWS::", 0) != 0 || second == std::string_view::npos || second <= 5 || second + 2 >= type.size())
            throw invalid("Value " + std::string(type) + " for resources.type is not valid.");
        }
      }
      if (trail && field == "errorCode")  // AWS: network activity events only (VpceAccessDenied)
        throw invalid("The errorCode field is only valid for network activity events.");
    }
    if (category.empty()) throw invalid("Each advanced event selector must have an eventCategory field selector.");
    if (trail) {
      if (category == "NetworkActivity")
        throw AwsError("UnsupportedOperationException", "Vigil trails log Management and Data events only (see docs/coverage.md).", 400);
      if (category != "Management" && category != "Data")
        throw invalid("Event category " + category + " is not valid for a trail. Valid values are Management, Data and NetworkActivity.");
    } else {
      if (category == "ConfigurationItem" || category == "ActivityAuditLog" || category == "Insight" || category == "NetworkActivity")
        throw AwsError("UnsupportedOperationException", "Vigil event data stores collect Management and Data events only (see docs/coverage.md).", 400);
      if (category != "Management" && category != "Data") throw invalid("Event category " + category + " is not valid.");
    }
    if (category == "Management") {
      for (const std::string& f : seen)
        if (f == "resources.type" || f == "resources.ARN") throw invalid("Field " + f + " is only valid for data events.");
      if (trail) {
        for (const Value& fs : fields->as_list()) {
          std::string_view field = fs.str("Field");
          if (field == "eventCategory" || field == "readOnly") continue;
          if (field != "eventSource")
            throw invalid("Field " + std::string(field) + " is not valid for management events of a trail: use eventCategory, readOnly and eventSource.");
          for (const char* op : {"Equals", "StartsWith", "EndsWith", "NotStartsWith", "NotEndsWith"})
            if (fs.has(op)) throw invalid("For management events of a trail, eventSource can only use NotEquals.");
          for (const Value& v : operands(fs, "NotEquals")) {
            std::string_view source = v.is_string() ? v.as_string() : std::string_view();
            if (source != "kms.amazonaws.com" && source != "rdsdata.amazonaws.com")
              throw invalid("For management events of a trail, eventSource can only be NotEquals kms.amazonaws.com or rdsdata.amazonaws.com.");
          }
        }
      }
    }
    if (category == "Data") {  // AWS: resources.type is required for data events
      bool typed = false;
      for (const std::string& f : seen) typed = typed || f == "resources.type";
      if (!typed) throw invalid("An advanced event selector for data events must have a resources.type field selector.");
    }
  }
  if (conditions > 500)
    throw invalid(std::string("The advanced event selectors of ") + owner_name + " can have at most 500 " + (trail ? "values." : "conditions."));
}

}  // namespace

void validate_lake_selectors(const Value& selectors) { validate_selectors(selectors, Owner::EventDataStore); }
void validate_trail_selectors(const Value& selectors) { validate_selectors(selectors, Owner::Trail); }

bool lake_selectors_match(const Value& selectors, const Value& record) {
  if (!selectors.is_list()) return false;
  for (const Value& selector : selectors.as_list()) {
    const Value* fields = selector.get("FieldSelectors");
    if (!fields || !fields->is_list()) continue;
    bool all = true;
    for (const Value& fs : fields->as_list()) all = all && field_selector_matches(fs, record);
    if (all) return true;
  }
  return false;
}

bool lake_selectors_want_data(const Value& selectors) {
  if (!selectors.is_list()) return false;
  for (const Value& selector : selectors.as_list())
    if (const Value* fields = selector.get("FieldSelectors"); fields && fields->is_list())
      for (const Value& fs : fields->as_list())
        if (fs.str("Field") == "eventCategory")
          if (const Value* eq = fs.get("Equals"); eq && eq->is_list())
            for (const Value& v : eq->as_list())
              if (v.is_string() && v.as_string() == "Data") return true;
  return false;
}

bool lake_selectors_want_management(const Value& selectors, bool write) {
  if (!selectors.is_list()) return false;
  for (const Value& selector : selectors.as_list()) {
    const Value* fields = selector.get("FieldSelectors");
    if (!fields || !fields->is_list()) continue;
    bool management = false, reads_only = false;
    for (const Value& fs : fields->as_list()) {
      const std::vector<Value>& equals = operands(fs, "Equals");
      if (fs.str("Field") == "eventCategory")
        for (const Value& v : equals) management = management || (v.is_string() && v.as_string() == "Management");
      if (fs.str("Field") == "readOnly")
        for (const Value& v : equals) reads_only = reads_only || (v.is_string() && v.as_string() == "true");
    }
    if (management && (!write || !reads_only)) return true;
  }
  return false;
}

Value default_lake_selectors() {
  Value equals = Value::list();
  equals.push("Management");
  Value fs = Value::map();
  fs.set("Field", "eventCategory");
  fs.set("Equals", std::move(equals));
  Value fields = Value::list();
  fields.push(std::move(fs));
  Value selector = Value::map();
  selector.set("Name", "Default management events");
  selector.set("FieldSelectors", std::move(fields));
  Value out = Value::list();
  out.push(std::move(selector));
  return out;
}

}  // namespace vigil::cloudtrail
