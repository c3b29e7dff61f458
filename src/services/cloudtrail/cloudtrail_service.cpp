#include "services/cloudtrail/cloudtrail_service.h"

namespace vigil::cloudtrail {

namespace {

Value empty() { return Value::map(); }

// AWS answers a missing trail name with InvalidTrailNameException before anything else.
std::string_view required_name(const Value& in, std::string_view member) {
  std::string_view name = in.str(member);
  if (name.empty()) throw AwsError("InvalidTrailNameException", "Trail name cannot be empty.", 400);
  return name;
}

}  // namespace

CloudTrailService::CloudTrailService(EventHistory& history, TrailStore& trails)
    : Service(*protocol::embedded_model("cloudtrail")), history_(history), trails_(trails) {
  using server::CallContext;
  on("LookupEvents", [this](CallContext& ctx, const Value& in) { return history_.lookup(ctx.account_id, ctx.region, in); });
  on("CreateTrail", [this](CallContext& ctx, const Value& in) {
    required_name(in, "Name");
    return trails_.create(ctx.account_id, ctx.region, in);
  });
  on("UpdateTrail", [this](CallContext& ctx, const Value& in) {
    required_name(in, "Name");
    return trails_.update(ctx.account_id, ctx.region, in);
  });
  on("DeleteTrail", [this](CallContext& ctx, const Value& in) {
    trails_.remove(ctx.account_id, ctx.region, required_name(in, "Name"));
    return empty();
  });
  on("GetTrail", [this](CallContext& ctx, const Value& in) { return trails_.get(ctx.account_id, ctx.region, required_name(in, "Name")); });
  on("DescribeTrails", [this](CallContext& ctx, const Value& in) { return trails_.describe(ctx.account_id, ctx.region, in); });
  on("ListTrails", [this](CallContext& ctx, const Value&) { return trails_.list(ctx.account_id, ctx.region); });
  on("GetTrailStatus", [this](CallContext& ctx, const Value& in) { return trails_.status(ctx.account_id, ctx.region, required_name(in, "Name")); });
  on("StartLogging", [this](CallContext& ctx, const Value& in) {
    trails_.set_logging(ctx.account_id, ctx.region, required_name(in, "Name"), true);
    return empty();
  });
  on("StopLogging", [this](CallContext& ctx, const Value& in) {
    trails_.set_logging(ctx.account_id, ctx.region, required_name(in, "Name"), false);
    return empty();
  });
  on("PutEventSelectors", [this](CallContext& ctx, const Value& in) {
    required_name(in, "TrailName");
    return trails_.put_event_selectors(ctx.account_id, ctx.region, in);
  });
  on("GetEventSelectors", [this](CallContext& ctx, const Value& in) {
    return trails_.get_event_selectors(ctx.account_id, ctx.region, required_name(in, "TrailName"));
  });
  on("AddTags", [this](CallContext& ctx, const Value& in) {
    trails_.add_tags(ctx.account_id, ctx.region, in);
    return empty();
  });
  on("RemoveTags", [this](CallContext& ctx, const Value& in) {
    trails_.remove_tags(ctx.account_id, ctx.region, in);
    return empty();
  });
  on("ListPublicKeys", [this](CallContext& ctx, const Value& in) { return trails_.list_public_keys(ctx.account_id, ctx.region, in); });
  on("ListTags", [this](CallContext& ctx, const Value& in) { return trails_.list_tags(ctx.account_id, ctx.region, in); });
}

}  // namespace vigil::cloudtrail
