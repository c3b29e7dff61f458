#include "services/cloudtrail/cloudtrail_service.h"

namespace vigil::cloudtrail {

CloudTrailService::CloudTrailService(EventHistory& history) : Service(*protocol::embedded_model("cloudtrail")), history_(history) {
  on("LookupEvents", [this](server::CallContext& ctx, const Value& in) { return history_.lookup(ctx.account_id, ctx.region, in); });
}

}  // namespace vigil::cloudtrail
