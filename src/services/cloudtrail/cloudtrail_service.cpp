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

CloudTrailService::CloudTrailService(EventHistory& history, TrailStore& trails, LakeStore& lake)
    : Service(*protocol::embedded_model("cloudtrail")), history_(history), trails_(trails), lake_(lake) {
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
  // Insights (trails.h, insights.h): trails only; EventDataStore answers UnsupportedOperationException.
  on("PutInsightSelectors", [this](CallContext& ctx, const Value& in) { return trails_.put_insight_selectors(ctx.account_id, ctx.region, in); });
  on("GetInsightSelectors", [this](CallContext& ctx, const Value& in) { return trails_.get_insight_selectors(ctx.account_id, ctx.region, in); });
  on("ListInsightsData", [this](CallContext& ctx, const Value& in) {
    return history_.list_insights_data(ctx.account_id, ctx.region, trails_.insight_source(ctx.account_id, ctx.region, in.str("InsightSource")), in);
  });
  on("ListInsightsMetricData", [this](CallContext& ctx, const Value& in) { return trails_.list_insights_metric_data(ctx.account_id, ctx.region, in); });
  // Tags: event data store ARNs go to Lake, everything else to trails.
  on("AddTags", [this](CallContext& ctx, const Value& in) {
    if (LakeStore::is_eds_arn(in.str("ResourceId"))) lake_.add_tags(ctx.account_id, ctx.region, in.str("ResourceId"), in.get("TagsList"));
    else trails_.add_tags(ctx.account_id, ctx.region, in);
    return empty();
  });
  on("RemoveTags", [this](CallContext& ctx, const Value& in) {
    if (LakeStore::is_eds_arn(in.str("ResourceId"))) lake_.remove_tags(ctx.account_id, ctx.region, in.str("ResourceId"), in.get("TagsList"));
    else trails_.remove_tags(ctx.account_id, ctx.region, in);
    return empty();
  });
  on("ListPublicKeys", [this](CallContext& ctx, const Value& in) { return trails_.list_public_keys(ctx.account_id, ctx.region, in); });
  on("ListTags", [this](CallContext& ctx, const Value& in) {
    const Value* ids = in.get("ResourceIdList");
    if (ids && ids->is_list() && ids->size() > 20) throw AwsError("InvalidParameterException", "ResourceIdList can contain at most 20 ARNs.", 400);
    Value list = Value::list();
    if (ids && ids->is_list())
      for (const Value& id : ids->as_list()) {
        std::string arn = id.is_string() ? id.as_string() : std::string();
        if (!LakeStore::is_eds_arn(arn)) {
          Value one = Value::map();
          one.set("ResourceIdList", Value(Value::List{Value(arn)}));
          Value trail_tags = trails_.list_tags(ctx.account_id, ctx.region, one);
          for (const Value& r : trail_tags.get("ResourceTagList")->as_list()) list.push(r);
          continue;
        }
        Value r = Value::map();
        r.set("ResourceId", arn);
        r.set("TagsList", lake_.tags(ctx.account_id, ctx.region, arn));
        list.push(std::move(r));
      }
    Value out = Value::map();
    out.set("ResourceTagList", std::move(list));
    return out;
  });

  // CloudTrail Lake (lake.h).
  on("CreateEventDataStore", [this](CallContext& ctx, const Value& in) { return lake_.create(ctx.account_id, ctx.region, in); });
  on("GetEventDataStore", [this](CallContext& ctx, const Value& in) { return lake_.get(ctx.account_id, ctx.region, in); });
  on("ListEventDataStores", [this](CallContext& ctx, const Value& in) { return lake_.list(ctx.account_id, ctx.region, in); });
  on("UpdateEventDataStore", [this](CallContext& ctx, const Value& in) { return lake_.update(ctx.account_id, ctx.region, in); });
  on("DeleteEventDataStore", [this](CallContext& ctx, const Value& in) {
    lake_.remove(ctx.account_id, ctx.region, in);
    return empty();
  });
  on("RestoreEventDataStore", [this](CallContext& ctx, const Value& in) { return lake_.restore(ctx.account_id, ctx.region, in); });
  on("StartEventDataStoreIngestion", [this](CallContext& ctx, const Value& in) {
    lake_.set_ingestion(ctx.account_id, ctx.region, in, true);
    return empty();
  });
  on("StopEventDataStoreIngestion", [this](CallContext& ctx, const Value& in) {
    lake_.set_ingestion(ctx.account_id, ctx.region, in, false);
    return empty();
  });
  on("StartQuery", [this](CallContext& ctx, const Value& in) { return lake_.start_query(ctx.account_id, ctx.region, in); });
  on("DescribeQuery", [this](CallContext& ctx, const Value& in) { return lake_.describe_query(ctx.account_id, ctx.region, in); });
  on("GetQueryResults", [this](CallContext& ctx, const Value& in) { return lake_.get_query_results(ctx.account_id, ctx.region, in); });
  on("CancelQuery", [this](CallContext& ctx, const Value& in) { return lake_.cancel_query(ctx.account_id, ctx.region, in); });
  on("ListQueries", [this](CallContext& ctx, const Value& in) { return lake_.list_queries(ctx.account_id, ctx.region, in); });
}

}  // namespace vigil::cloudtrail
