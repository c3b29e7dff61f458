#include "services/cloudtrail/lake.h"

#include <algorithm>
#include <cmath>

#include "core/arn.h"
#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/json_codec.h"
#include "services/cloudtrail/event_history.h"
#include "services/cloudtrail/lake_selectors.h"
#include "services/cloudtrail/lake_sql.h"
#include "services/cloudtrail/trails.h"

namespace vigil::cloudtrail {

namespace {

constexpr const char* kEdsPrefix = "ct:eds:";
constexpr const char* kQueryPrefix = "ct:q:";
constexpr size_t kMaxStoresPerRegion = 10;
constexpr size_t kMaxConcurrentQueries = 10;
constexpr int64_t kDayMillis = 24LL * 3600 * 1000;
constexpr int64_t kPendingDeletionMillis = 7 * kDayMillis;
constexpr int64_t kResultRetentionMillis = 7 * kDayMillis;
constexpr size_t kResultBatchRows = 1000;

AwsError not_found() { return AwsError("EventDataStoreNotFoundException", "The specified event data store was not found.", 400); }
AwsError invalid_arn(std::string_view arn) {
  return AwsError("EventDataStoreARNInvalidException", "The specified event data store ARN " + std::string(arn) + " is not valid or does not map to an event data store in your account.", 400);
}
AwsError inactive(const std::string& arn) { return AwsError("InactiveEventDataStoreException", "Event data store " + arn + " is inactive.", 400); }
AwsError invalid_parameter(const std::string& message) { return AwsError("InvalidParameterException", message, 400); }
AwsError invalid_token() { return AwsError("InvalidNextTokenException", "Invalid NextToken.", 400); }

std::string result_prefix(std::string_view query_id) {
  std::string key = "r";
  key += query_id;
  key += '\0';
  return key;
}

std::string offset_token(size_t offset) { return base64_encode(std::to_string(offset)); }

size_t read_offset_token(std::string_view token) {
  auto decoded = base64_decode(token);
  if (!decoded || decoded->empty() || decoded->size() > 18) throw invalid_token();
  for (char c : *decoded)
    if (c < '0' || c > '9') throw invalid_token();
  return static_cast<size_t>(std::stoull(*decoded));
}

bool name_ok(std::string_view name) {
  if (name.size() < 3 || name.size() > 128) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}


bool active_query(const std::string& status) { return status == "QUEUED" || status == "RUNNING"; }

// Retention and billing mode rules shared by create and update.
void check_retention(const Value& state) {
  int64_t retention = state.i64("RetentionPeriod", 0);
  std::string_view mode = state.str("BillingMode");
  if (retention < 7 || retention > 3653) throw invalid_parameter("RetentionPeriod must be between 7 and 3653 days.");
  if (mode == "FIXED_RETENTION_PRICING" && retention > 2557)
    throw invalid_parameter("The retention period for an event data store with FIXED_RETENTION_PRICING must be between 7 and 2557 days.");
}

}  // namespace

LakeStore::LakeStore(store::Store& store, const Clock& clock) : store_(store), clock_(clock), engine_(store, clock) {
  LakeEngine::set_memory_limit(512LL << 20);
}

LakeStore::~LakeStore() { stop_worker(); }

void LakeStore::start_worker() {
  std::lock_guard lock(mutex_);
  if (worker_.joinable()) return;
  stopping_ = false;
  worker_ = std::thread([this] {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
      }
      run_next();
    }
  });
}

void LakeStore::stop_worker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    // A running query stops at its next progress check; load() re-queues it on restart.
    for (auto& [id, q] : queries_)
      if (q.status == "RUNNING") q.cancel->store(true);
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void LakeStore::load() {
  std::lock_guard lock(mutex_);
  stores_.clear();
  queries_.clear();
  queue_.clear();
  auto it = store_.iterate(store::Keyspace::Meta, kEdsPrefix, std::string(kEdsPrefix) + "\xff");
  for (it->seek(kEdsPrefix); it->valid(); it->next()) {
    Value state = protocol::json_to_value(it->value(), nullptr);
    Eds eds{std::string(state.str("Account")), std::string(state.str("Region")), std::string(it->key().substr(std::string_view(kEdsPrefix).size())), state};
    stores_.emplace(eds.id, std::move(eds));
  }
  std::vector<Query> unfinished;
  auto qit = store_.iterate(store::Keyspace::Meta, kQueryPrefix, std::string(kQueryPrefix) + "\xff");
  for (qit->seek(kQueryPrefix); qit->valid(); qit->next()) {
    Value d = protocol::json_to_value(qit->value(), nullptr);
    Query q;
    q.id = std::string(qit->key().substr(std::string_view(kQueryPrefix).size()));
    q.account = std::string(d.str("Account"));
    q.region = std::string(d.str("Region"));
    q.statement = std::string(d.str("Statement"));
    if (const Value* params = d.get("Parameters"); params && params->is_list())
      for (const Value& p : params->as_list()) q.parameters.push_back(p.is_string() ? p.as_string() : "");
    if (const Value* ids = d.get("Stores"); ids && ids->is_list())
      for (const Value& id : ids->as_list()) q.eds_ids.push_back(id.is_string() ? id.as_string() : "");
    q.status = std::string(d.str("Status"));
    q.error = std::string(d.str("Error"));
    q.delivery_uri = std::string(d.str("DeliveryS3Uri"));
    q.delivery_status = std::string(d.str("DeliveryStatus"));
    q.created_millis = d.i64("Created", 0);
    q.execution_millis = d.i64("ExecutionMillis", 0);
    q.stats.events_scanned = d.i64("EventsScanned", 0);
    q.stats.bytes_scanned = d.i64("BytesScanned", 0);
    q.stats.rows = d.i64("Rows", 0);
    queries_.emplace(q.id, q);
    if (active_query(q.status) || (q.status == "FINISHED" && q.delivery_status == "PENDING")) unfinished.push_back(q);
  }
  std::sort(unfinished.begin(), unfinished.end(), [](const Query& a, const Query& b) { return a.created_millis < b.created_millis; });
  for (const Query& q : unfinished) queue_.push_back(q.id);
  recount_data_stores();
}

void LakeStore::reset() {
  std::lock_guard lock(mutex_);
  for (auto& [id, q] : queries_) q.cancel->store(true);
  stores_.clear();
  queries_.clear();
  queue_.clear();
  data_stores_ = 0;
  enabled_stores_ = 0;
}

void LakeStore::recount_data_stores() {
  int n = 0, enabled = 0;
  for (const auto& [id, eds] : stores_) {
    if (eds.state.str("Status") != "ENABLED") continue;
    ++enabled;
    if (lake_selectors_want_data(*eds.state.get("AdvancedEventSelectors"))) ++n;
  }
  data_stores_ = n;
  enabled_stores_ = enabled;
}

void LakeStore::save(const Eds& eds) {
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, kEdsPrefix + eds.id, protocol::value_to_json(eds.state));
  store_.write(batch);
}

void LakeStore::save(const Query& q, store::Durability durability) {
  Value d = Value::map();
  d.set("Account", q.account);
  d.set("Region", q.region);
  d.set("Statement", q.statement);
  if (!q.parameters.empty()) {
    Value params = Value::list();
    for (const std::string& p : q.parameters) params.push(p);
    d.set("Parameters", std::move(params));
  }
  Value ids = Value::list();
  for (const std::string& id : q.eds_ids) ids.push(id);
  d.set("Stores", std::move(ids));
  d.set("Status", q.status);
  d.set("Error", q.error);
  if (!q.delivery_uri.empty()) {
    d.set("DeliveryS3Uri", q.delivery_uri);
    d.set("DeliveryStatus", q.delivery_status);
  }
  d.set("Created", q.created_millis);
  d.set("ExecutionMillis", q.execution_millis);
  d.set("EventsScanned", q.stats.events_scanned);
  d.set("BytesScanned", q.stats.bytes_scanned);
  d.set("Rows", q.stats.rows);
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, kQueryPrefix + q.id, protocol::value_to_json(d));
  store_.write(batch, durability);
}

bool LakeStore::is_eds_arn(std::string_view arn) { return arn.rfind("arn:", 0) == 0 && arn.find(":eventdatastore/") != std::string_view::npos; }

const LakeStore::Eds& LakeStore::find(const std::string& account, const std::string& region, std::string_view id_or_arn) const {
  std::string id(id_or_arn);
  if (id_or_arn.rfind("arn:", 0) == 0) {
    // arn:<partition>:cloudtrail:<region>:<account>:eventdatastore/<id>
    auto arn = split_arn(id_or_arn);
    if (!arn || arn->service != "cloudtrail" || arn->resource.rfind("eventdatastore/", 0) != 0 || arn->resource.size() == 15)
      throw invalid_arn(id_or_arn);
    if (arn->region != region || arn->account != account) throw not_found();
    id = std::string(arn->resource.substr(15));
  } else if (id.size() < 3 || id.size() > 256 || id.find_first_of(":/ ") != std::string::npos) {
    throw invalid_arn(id_or_arn);
  }
  auto it = stores_.find(id);
  if (it == stores_.end() || it->second.account != account || it->second.region != region) throw not_found();
  return it->second;
}

LakeStore::Eds& LakeStore::find(const std::string& account, const std::string& region, std::string_view id_or_arn) {
  return const_cast<Eds&>(static_cast<const LakeStore*>(this)->find(account, region, id_or_arn));
}

Value LakeStore::view(const Eds& eds, bool for_list) const {
  const Value& s = eds.state;
  Value out = Value::map();
  out.set("EventDataStoreArn", std::string(s.str("EventDataStoreArn")));
  out.set("Name", std::string(s.str("Name")));
  out.set("Status", std::string(s.str("Status")));
  out.set("AdvancedEventSelectors", *s.get("AdvancedEventSelectors"));
  out.set("MultiRegionEnabled", s.flag("MultiRegionEnabled", true));
  out.set("OrganizationEnabled", false);
  out.set("RetentionPeriod", s.i64("RetentionPeriod", 366));
  out.set("TerminationProtectionEnabled", s.flag("TerminationProtectionEnabled", true));
  out.set("CreatedTimestamp", Timestamp{s.f64("CreatedTimestamp", 0)});
  out.set("UpdatedTimestamp", Timestamp{s.f64("UpdatedTimestamp", 0)});
  if (!for_list) {
    out.set("BillingMode", std::string(s.str("BillingMode")));
    if (!s.str("KmsKeyId").empty()) out.set("KmsKeyId", std::string(s.str("KmsKeyId")));
    out.set("FederationStatus", "DISABLED");
  }
  return out;
}

Value LakeStore::create(const std::string& account, const std::string& region, const Value& input) {
  std::string name(input.str("Name"));
  if (!name_ok(name)) throw invalid_parameter("Event data store name " + name + " is not valid: 3 to 128 characters among a-z, A-Z, 0-9, '.', '_' and '-'.");
  if (input.flag("OrganizationEnabled", false)) throw AwsError("OrganizationsNotInUseException", "This account is not a member of an organization.", 400);
  std::string kms_key;
  if (!input.str("KmsKeyId").empty()) kms_key = kms_.resolve(account, region, std::string(input.str("KmsKeyId")));
  Value selectors = input.has("AdvancedEventSelectors") ? *input.get("AdvancedEventSelectors") : default_lake_selectors();
  validate_lake_selectors(selectors);
  std::string mode = input.has("BillingMode") ? std::string(input.str("BillingMode")) : "EXTENDABLE_RETENTION_PRICING";
  Value state = Value::map();
  std::string id = new_uuid();
  double now = clock_.now_seconds();
  state.set("Account", account);
  state.set("Region", region);
  state.set("EventDataStoreArn", "arn:aws:cloudtrail:" + region + ":" + account + ":eventdatastore/" + id);
  state.set("Name", name);
  bool ingest = input.flag("StartIngestion", true);
  state.set("Status", ingest ? "ENABLED" : "STOPPED_INGESTION");
  state.set("AdvancedEventSelectors", selectors);
  state.set("MultiRegionEnabled", input.flag("MultiRegionEnabled", true));
  state.set("RetentionPeriod", input.i64("RetentionPeriod", mode == "FIXED_RETENTION_PRICING" ? 2557 : 366));
  state.set("TerminationProtectionEnabled", input.flag("TerminationProtectionEnabled", true));
  state.set("BillingMode", mode);
  if (!kms_key.empty()) state.set("KmsKeyId", kms_key);
  state.set("CreatedTimestamp", now);
  state.set("UpdatedTimestamp", now);
  check_retention(state);
  Value tags = Value::list();
  merge_tags(tags, input.get("TagsList"), "resource");
  state.set("TagsList", tags);

  std::lock_guard lock(mutex_);
  size_t in_region = 0;
  for (const auto& [other_id, other] : stores_) {
    if (other.account != account || other.region != region) continue;
    ++in_region;
    if (other.state.str("Name") == name) throw AwsError("EventDataStoreAlreadyExistsException", "An event data store with the name " + name + " already exists.", 400);
  }
  if (in_region >= kMaxStoresPerRegion)
    throw AwsError("EventDataStoreMaxLimitExceededException", "Your account has used the maximum number of event data stores in this Region (10).", 400);
  Eds eds{account, region, id, std::move(state)};
  save(eds);
  Value out = view(eds);
  out.set("Status", ingest ? "CREATED" : "STOPPED_INGESTION");
  out.set("TagsList", std::move(tags));
  stores_.emplace(id, std::move(eds));
  recount_data_stores();
  return out;
}

Value LakeStore::get(const std::string& account, const std::string& region, const Value& input) const {
  std::lock_guard lock(mutex_);
  return view(find(account, region, input.str("EventDataStore")));
}

Value LakeStore::list(const std::string& account, const std::string& region, const Value& input) const {
  int64_t max = input.i64("MaxResults", 1000);
  if (max < 1 || max > 1000) throw AwsError("InvalidMaxResultsException", "MaxResults must be between 1 and 1000.", 400);
  size_t offset = input.has("NextToken") ? read_offset_token(input.str("NextToken")) : 0;
  std::lock_guard lock(mutex_);
  std::vector<const Eds*> mine;
  for (const auto& [id, eds] : stores_)
    if (eds.account == account && eds.region == region) mine.push_back(&eds);
  std::sort(mine.begin(), mine.end(), [](const Eds* a, const Eds* b) { return a->state.str("Name") < b->state.str("Name"); });
  if (offset > mine.size()) throw invalid_token();
  Value list = Value::list();
  size_t end = std::min(mine.size(), offset + static_cast<size_t>(max));
  for (size_t i = offset; i < end; ++i) list.push(view(*mine[i], /*for_list=*/true));
  Value out = Value::map();
  out.set("EventDataStores", std::move(list));
  if (end < mine.size()) out.set("NextToken", offset_token(end));
  return out;
}

Value LakeStore::update(const std::string& account, const std::string& region, const Value& input) {
  if (input.flag("OrganizationEnabled", false)) throw AwsError("OrganizationsNotInUseException", "This account is not a member of an organization.", 400);
  std::string kms_key;
  if (!input.str("KmsKeyId").empty()) kms_key = kms_.resolve(account, region, std::string(input.str("KmsKeyId")));
  if (input.has("AdvancedEventSelectors")) validate_lake_selectors(*input.get("AdvancedEventSelectors"));
  std::lock_guard lock(mutex_);
  Eds& eds = find(account, region, input.str("EventDataStore"));
  Value state = eds.state;
  if (state.str("Status") == "PENDING_DELETION") throw inactive(std::string(state.str("EventDataStoreArn")));
  if (!kms_key.empty()) {  // a store may be given a key once; AWS does not let it be changed or removed
    if (!state.str("KmsKeyId").empty() && state.str("KmsKeyId") != kms_key)
      throw invalid_parameter("The KMS key of an event data store cannot be changed once set.");
    state.set("KmsKeyId", kms_key);
  }
  if (input.has("Name")) {
    std::string name(input.str("Name"));
    if (!name_ok(name)) throw invalid_parameter("Event data store name " + name + " is not valid: 3 to 128 characters among a-z, A-Z, 0-9, '.', '_' and '-'.");
    for (const auto& [id, other] : stores_)
      if (id != eds.id && other.account == account && other.region == region && other.state.str("Name") == name)
        throw AwsError("EventDataStoreAlreadyExistsException", "An event data store with the name " + name + " already exists.", 400);
    state.set("Name", name);
  }
  if (input.has("BillingMode")) {
    // AWS allows moving from fixed to extendable pricing only.
    if (state.str("BillingMode") == "EXTENDABLE_RETENTION_PRICING" && input.str("BillingMode") == "FIXED_RETENTION_PRICING")
      throw invalid_parameter("You cannot change the billing mode from EXTENDABLE_RETENTION_PRICING to FIXED_RETENTION_PRICING.");
    state.set("BillingMode", std::string(input.str("BillingMode")));
  }
  if (input.has("AdvancedEventSelectors")) state.set("AdvancedEventSelectors", *input.get("AdvancedEventSelectors"));
  if (input.has("MultiRegionEnabled")) state.set("MultiRegionEnabled", input.flag("MultiRegionEnabled", true));
  if (input.has("RetentionPeriod")) state.set("RetentionPeriod", input.i64("RetentionPeriod", 366));
  if (input.has("TerminationProtectionEnabled")) state.set("TerminationProtectionEnabled", input.flag("TerminationProtectionEnabled", true));
  check_retention(state);
  state.set("UpdatedTimestamp", clock_.now_seconds());
  eds.state = std::move(state);
  save(eds);
  recount_data_stores();
  return view(eds);
}

void LakeStore::remove(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Eds& eds = find(account, region, input.str("EventDataStore"));
  std::string arn(eds.state.str("EventDataStoreArn"));
  if (eds.state.str("Status") == "PENDING_DELETION") throw inactive(arn);
  if (eds.state.flag("TerminationProtectionEnabled", true))
    throw AwsError("EventDataStoreTerminationProtectedException", "Event data store " + arn + " cannot be deleted because termination protection is enabled.", 400);
  eds.state.set("StatusBeforeDeletion", std::string(eds.state.str("Status")));
  eds.state.set("Status", "PENDING_DELETION");
  eds.state.set("DeletedMillis", clock_.now_millis());
  eds.state.set("UpdatedTimestamp", clock_.now_seconds());
  save(eds);
  recount_data_stores();
}

Value LakeStore::restore(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Eds& eds = find(account, region, input.str("EventDataStore"));
  if (eds.state.str("Status") != "PENDING_DELETION")
    throw AwsError("InvalidEventDataStoreStatusException", "Event data store " + std::string(eds.state.str("EventDataStoreArn")) + " is not pending deletion.", 400);
  std::string before(eds.state.str("StatusBeforeDeletion", "ENABLED"));
  eds.state.set("Status", before.empty() ? std::string("ENABLED") : before);
  eds.state.set("DeletedMillis", Value());
  eds.state.set("UpdatedTimestamp", clock_.now_seconds());
  save(eds);
  recount_data_stores();
  return view(eds);
}

void LakeStore::set_ingestion(const std::string& account, const std::string& region, const Value& input, bool on) {
  std::lock_guard lock(mutex_);
  Eds& eds = find(account, region, input.str("EventDataStore"));
  std::string_view status = eds.state.str("Status");
  if (status != (on ? "STOPPED_INGESTION" : "ENABLED"))
    throw AwsError("InvalidEventDataStoreStatusException", "Event data store " + std::string(eds.state.str("EventDataStoreArn")) + " has status " + std::string(status) + ".", 400);
  eds.state.set("Status", on ? "ENABLED" : "STOPPED_INGESTION");
  eds.state.set("UpdatedTimestamp", clock_.now_seconds());
  save(eds);
  recount_data_stores();
}

void LakeStore::add_tags(const std::string& account, const std::string& region, std::string_view arn, const Value* tags) {
  std::lock_guard lock(mutex_);
  Eds& eds = find(account, region, arn);
  Value list = eds.state.get("TagsList") && eds.state.get("TagsList")->is_list() ? *eds.state.get("TagsList") : Value::list();
  merge_tags(list, tags, "resource");
  eds.state.set("TagsList", std::move(list));
  save(eds);
}

void LakeStore::remove_tags(const std::string& account, const std::string& region, std::string_view arn, const Value* remove) {
  std::lock_guard lock(mutex_);
  Eds& eds = find(account, region, arn);
  eds.state.set("TagsList", without_tags(eds.state.get("TagsList"), remove));
  save(eds);
}

Value LakeStore::tags(const std::string& account, const std::string& region, std::string_view arn) const {
  std::lock_guard lock(mutex_);
  const Eds& eds = find(account, region, arn);
  const Value* tags = eds.state.get("TagsList");
  return tags && tags->is_list() ? *tags : Value::list();
}

// ---- queries ----

Value LakeStore::start_query(const std::string& account, const std::string& region, const Value& input) {
  if (input.has("QueryAlias"))
    throw AwsError("UnsupportedOperationException", "Vigil does not support QueryAlias (the Lake dashboards' query templates) yet (see docs/coverage.md).", 400);
  // AWS documents QueryParameters with QueryAlias only; with a QueryStatement they fill its `?`
  // placeholders in order (Trino's prepared statement parameters), bound as text values.
  std::vector<std::string> parameters;
  if (const Value* list = input.get("QueryParameters")) {
    if (!list->is_list() || list->size() < 1 || list->size() > 10) throw invalid_parameter("QueryParameters must hold 1 to 10 parameters.");
    for (const Value& p : list->as_list()) {
      if (!p.is_string() || p.as_string().empty() || p.as_string().size() > 1024)
        throw invalid_parameter("Each of QueryParameters must be a string of 1 to 1024 characters.");
      parameters.push_back(lake_parameter_value(p.as_string()));
    }
  }
  std::string delivery_uri(input.str("DeliveryS3Uri"));
  DeliveryTarget target;
  if (!delivery_uri.empty()) {
    if (!objects_ || !keys_) throw AwsError("UnsupportedOperationException", "This Vigil does not deliver query results to S3.", 400);
    target = parse_delivery_uri(delivery_uri);
  }
  if (input.has("EventDataStoreOwnerAccountId") && input.str("EventDataStoreOwnerAccountId") != account)
    throw AwsError("EventDataStoreNotFoundException", "The specified event data store was not found.", 400);
  std::string statement(input.str("QueryStatement"));
  if (statement.empty()) throw invalid_parameter("QueryStatement is required.");

  std::lock_guard lock(mutex_);
  size_t active = 0;
  for (const auto& [id, q] : queries_)
    if (q.account == account && active_query(q.status)) ++active;
  if (active >= kMaxConcurrentQueries)
    throw AwsError("MaxConcurrentQueriesException", "You are already running the maximum number of concurrent queries (10). Wait a minute for some queries to finish.", 400);
  LakeSql sql;
  std::vector<LakeSource> sources;
  try {
    sql = rewrite_lake_sql(statement, [&](std::string_view target) {
      const Eds& eds = find(account, region, target);
      if (eds.state.str("Status") == "PENDING_DELETION") throw inactive(std::string(eds.state.str("EventDataStoreArn")));
      if (std::string key(eds.state.str("KmsKeyId")); !key.empty())
        if (std::string why = kms_.problem_of(key); !why.empty())
          throw AwsError("KmsException", "The KMS key " + key + " of event data store " + std::string(eds.state.str("EventDataStoreArn")) + " cannot be used: " + why, 400);
      return eds.id;
    });
    if (sql.targets.empty()) throw LakeSqlError("The query must select FROM an event data store ID.");
    sql.parameters = parameters;
    for (const std::string& id : sql.targets) sources.push_back({id, 0});
    engine_.check(sql, sources);
  } catch (const LakeSqlError& e) {
    throw AwsError("InvalidQueryStatementException", e.what(), 400);
  }
  Query q;
  q.id = new_uuid();
  if (!delivery_uri.empty()) {
    // As at CreateTrail: the bucket must exist and its policy let CloudTrail write the results
    // (aws:SourceArn = the queried event data store, as AWS's documented policy has it).
    if (!objects_->bucket(target.bucket)) throw AwsError("S3BucketDoesNotExistException", "S3 bucket " + target.bucket + " does not exist.", 400);
    std::string source_arn(stores_.at(sql.targets.front()).state.str("EventDataStoreArn"));
    std::string key = delivery_folder(target, account, q.id, clock_.now_seconds()) + "result_1.csv.gz";
    if (!cloudtrail_bucket_access(*objects_, delivery_policy_required_, account, source_arn, target.bucket, "arn:aws:s3:::" + target.bucket + "/" + key, clock_.now_seconds()).empty())
      throw AwsError("InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected for bucket: " + target.bucket, 400);
    q.delivery_uri = delivery_uri;
    q.delivery_status = "PENDING";
  }
  q.account = account;
  q.region = region;
  q.statement = statement;
  q.parameters = std::move(parameters);
  q.eds_ids = sql.targets;
  q.status = "QUEUED";
  q.created_millis = clock_.now_millis();
  save(q);
  queries_.emplace(q.id, q);
  queue_.push_back(q.id);
  wake_.notify_one();
  Value out = Value::map();
  out.set("QueryId", q.id);
  return out;
}

const LakeStore::Query& LakeStore::find_query(const std::string& account, const std::string& region, const Value& input) const {
  if (input.has("EventDataStore")) find(account, region, input.str("EventDataStore"));
  if (!input.has("QueryId")) {
    if (input.has("QueryAlias")) throw AwsError("UnsupportedOperationException", "Vigil does not support QueryAlias yet (see docs/coverage.md).", 400);
    throw invalid_parameter("QueryId is required.");
  }
  std::string id(input.str("QueryId"));
  auto it = queries_.find(id);
  if (it == queries_.end() || it->second.account != account || it->second.region != region)
    throw AwsError("QueryIdNotFoundException", "The query ID " + id + " does not exist or does not map to a query.", 400);
  return it->second;
}

Value LakeStore::describe_query(const std::string& account, const std::string& region, const Value& input) const {
  std::lock_guard lock(mutex_);
  const Query& q = find_query(account, region, input);
  Value stats = Value::map();
  stats.set("EventsMatched", q.stats.rows);
  stats.set("EventsScanned", q.stats.events_scanned);
  stats.set("BytesScanned", q.stats.bytes_scanned);
  stats.set("ExecutionTimeInMillis", q.execution_millis);
  stats.set("CreationTime", Timestamp{static_cast<double>(q.created_millis) / 1000.0});
  Value out = Value::map();
  out.set("QueryId", q.id);
  // What ran: a parameterized statement shows its parameters in place (AWS does not document
  // the form; the parameters are bound, this text is display only).
  out.set("QueryString", q.parameters.empty() ? q.statement : lake_statement_with_parameters(q.statement, q.parameters));
  out.set("QueryStatus", q.status);
  out.set("QueryStatistics", std::move(stats));
  if (!q.error.empty()) out.set("ErrorMessage", q.error);
  if (!q.delivery_uri.empty()) {
    out.set("DeliveryS3Uri", q.delivery_uri);
    out.set("DeliveryStatus", q.delivery_status);
  }
  return out;
}

Value LakeStore::get_query_results(const std::string& account, const std::string& region, const Value& input) const {
  int64_t max = input.i64("MaxQueryResults", 1000);
  if (max < 1 || max > 1000) throw AwsError("InvalidMaxResultsException", "MaxQueryResults must be between 1 and 1000.", 400);
  std::string id, status, error;
  int64_t total = 0, bytes = 0;
  {
    std::lock_guard lock(mutex_);
    const Query& q = find_query(account, region, input);
    id = q.id;
    status = q.status;
    error = q.error;
    total = q.stats.rows;
    bytes = q.stats.bytes_scanned;
  }
  size_t offset = input.has("NextToken") ? read_offset_token(input.str("NextToken")) : 0;
  Value rows = Value::list();
  bool more = false;
  if (status == "FINISHED") {
    if (offset > static_cast<size_t>(total)) throw invalid_token();
    // One page: a seek to the row and at most MaxQueryResults keys.
    std::string prefix = result_prefix(id), from = prefix;
    append_u64(from, offset);
    auto it = store_.iterate(store::Keyspace::Lake, from, prefix + std::string(8, '\xff'));
    for (it->seek(from); it->valid(); it->next()) {
      if (static_cast<int64_t>(rows.size()) == max) {
        more = true;
        break;
      }
      rows.push(protocol::json_to_value(it->value(), nullptr));
    }
  }
  Value stats = Value::map();
  stats.set("ResultsCount", static_cast<int64_t>(rows.size()));
  stats.set("TotalResultsCount", total);
  stats.set("BytesScanned", bytes);
  Value out = Value::map();
  out.set("QueryStatus", status);
  out.set("QueryStatistics", std::move(stats));
  out.set("QueryResultRows", std::move(rows));
  if (more) out.set("NextToken", offset_token(offset + static_cast<size_t>(max)));
  if (!error.empty()) out.set("ErrorMessage", error);
  return out;
}

Value LakeStore::cancel_query(const std::string& account, const std::string& region, const Value& input) {
  std::lock_guard lock(mutex_);
  Query& q = const_cast<Query&>(find_query(account, region, input));
  if (!active_query(q.status)) throw AwsError("InactiveQueryException", "The query " + q.id + " is not active: its status is " + q.status + ".", 400);
  q.cancel->store(true);
  if (q.status == "QUEUED") {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), q.id), queue_.end());
    q.status = "CANCELLED";
    if (!q.delivery_uri.empty()) q.delivery_status = "CANCELLED";
    save(q);
  }
  // A RUNNING query stops at its next progress check; the worker records CANCELLED.
  Value out = Value::map();
  out.set("QueryId", q.id);
  out.set("QueryStatus", "CANCELLED");
  return out;
}

Value LakeStore::list_queries(const std::string& account, const std::string& region, const Value& input) const {
  int64_t max = input.i64("MaxResults", 1000);
  if (max < 1 || max > 1000) throw AwsError("InvalidMaxResultsException", "MaxResults must be between 1 and 1000.", 400);
  int64_t start = input.has("StartTime") ? static_cast<int64_t>(input.get("StartTime")->as_double() * 1000) : INT64_MIN;
  int64_t end = input.has("EndTime") ? static_cast<int64_t>(input.get("EndTime")->as_double() * 1000) : INT64_MAX;
  if (start > end) throw AwsError("InvalidDateRangeException", "The StartTime must be before the EndTime.", 400);
  std::string status(input.str("QueryStatus"));
  size_t offset = input.has("NextToken") ? read_offset_token(input.str("NextToken")) : 0;
  std::lock_guard lock(mutex_);
  const Eds& eds = find(account, region, input.str("EventDataStore"));
  std::vector<const Query*> matching;
  for (const auto& [id, q] : queries_) {
    if (q.account != account || q.region != region || std::find(q.eds_ids.begin(), q.eds_ids.end(), eds.id) == q.eds_ids.end()) continue;
    if (q.created_millis < start || q.created_millis > end || (!status.empty() && q.status != status)) continue;
    matching.push_back(&q);
  }
  std::sort(matching.begin(), matching.end(), [](const Query* a, const Query* b) {
    return a->created_millis != b->created_millis ? a->created_millis > b->created_millis : a->id < b->id;
  });
  if (offset > matching.size()) throw invalid_token();
  Value list = Value::list();
  size_t stop = std::min(matching.size(), offset + static_cast<size_t>(max));
  for (size_t i = offset; i < stop; ++i) {
    Value item = Value::map();
    item.set("QueryId", matching[i]->id);
    item.set("QueryStatus", matching[i]->status);
    item.set("CreationTime", Timestamp{static_cast<double>(matching[i]->created_millis) / 1000.0});
    list.push(std::move(item));
  }
  Value out = Value::map();
  out.set("Queries", std::move(list));
  if (stop < matching.size()) out.set("NextToken", offset_token(stop));
  return out;
}

void LakeStore::erase_results(const std::string& query_id) {
  std::string prefix = result_prefix(query_id);
  store::WriteBatch batch(store_);
  batch.erase_range(store::Keyspace::Lake, prefix, prefix + std::string(9, '\xff'));
  store_.write(batch, store::Durability::Buffered);
}

bool LakeStore::run_next() {
  std::string id;
  LakeSql sql;
  std::vector<LakeSource> sources;
  std::shared_ptr<std::atomic<bool>> cancel;
  int64_t started = clock_.now_millis();
  {
    std::unique_lock lock(mutex_);
    while (!queue_.empty()) {
      id = queue_.front();
      queue_.pop_front();
      auto it = queries_.find(id);
      if (it != queries_.end() && it->second.status == "QUEUED") break;
      if (it != queries_.end() && it->second.status == "RUNNING") break;  // interrupted by a restart
      if (it != queries_.end() && it->second.status == "FINISHED" && it->second.delivery_status == "PENDING") break;  // delivery a restart interrupted
      id.clear();
    }
    if (id.empty()) return false;
    Query& q = queries_.at(id);
    if (q.status == "FINISHED") {  // its run is done, its delivery is not
      lock.unlock();
      deliver(id);
      return true;
    }
    q.status = "RUNNING";
    q.cancel->store(false);
    cancel = q.cancel;
    save(q, store::Durability::Buffered);
    // Re-resolve: a store may have been deleted or shortened its retention since StartQuery.
    std::string problem;
    for (const std::string& eds_id : q.eds_ids) {
      auto e = stores_.find(eds_id);
      if (e == stores_.end() || e->second.state.str("Status") == "PENDING_DELETION") {
        problem = "Event data store " + eds_id + " is not active.";
        break;
      }
      sources.push_back({eds_id, clock_.now_millis() - e->second.state.i64("RetentionPeriod", 366) * kDayMillis});
    }
    try {
      if (problem.empty())
        sql = rewrite_lake_sql(q.statement, [&](std::string_view target) {
          const Eds& eds = find(q.account, q.region, target);
          return eds.id;
        });
      sql.parameters = q.parameters;
    } catch (const std::exception& e) {
      problem = e.what();
    }
    if (problem.empty() && sql.targets != q.eds_ids) problem = "The query's event data stores changed since it was started.";
    if (!problem.empty()) {
      q.status = "FAILED";
      q.error = problem;
      save(q);
      return true;
    }
  }
  erase_results(id);  // rows of a run a restart interrupted

  // Rows go to the store in batches as SQLite produces them.
  std::string prefix = result_prefix(id);
  uint64_t row_number = 0;
  auto batch = std::make_unique<store::WriteBatch>(store_);
  size_t in_batch = 0, result_bytes = 0;
  bool too_big = false;
  auto on_row = [&](const LakeRow& row) {
    if (too_big) return;
    Value columns = Value::list();
    for (const auto& [name, value] : row) {
      Value column = Value::map();
      column.set(name, value);
      columns.push(std::move(column));
    }
    std::string key = prefix;
    append_u64(key, row_number++);
    std::string json = protocol::value_to_json(columns);
    result_bytes += json.size();
    if (result_bytes > max_result_bytes_.load()) {
      too_big = true;
      cancel->store(true);  // stops SQLite at its next progress check
      return;
    }
    batch->put(store::Keyspace::Lake, key, json);
    if (++in_batch == kResultBatchRows) {
      store_.write(*batch, store::Durability::Buffered);
      batch = std::make_unique<store::WriteBatch>(store_);
      in_batch = 0;
    }
  };
  LakeRunStats stats;
  std::string error;
  int64_t deadline = started + timeout_millis_.load();
  LakeOutcome outcome;
  try {
    outcome = engine_.run(sql, sources, *cancel, deadline, on_row, stats, error);
  } catch (const std::exception& e) {
    outcome = LakeOutcome::Failed;
    error = e.what();
  }
  if (!batch->empty()) store_.write(*batch, store::Durability::Buffered);

  std::unique_lock lock(mutex_);
  auto it = queries_.find(id);
  if (it == queries_.end()) return true;  // reset meanwhile
  Query& q = it->second;
  q.stats = stats;
  q.execution_millis = clock_.now_millis() - started;
  if (too_big) {
    outcome = LakeOutcome::Failed;
    error = "The query's results exceed the " + std::to_string(max_result_bytes_.load() >> 20) + " MB Vigil keeps per query.";
  }
  switch (outcome) {
    case LakeOutcome::Finished:
      q.status = cancel->load() ? "CANCELLED" : "FINISHED";
      break;
    case LakeOutcome::Failed:
      q.status = "FAILED";
      q.error = error;
      break;
    case LakeOutcome::Cancelled:
      if (stopping_) return true;  // shutdown: stays RUNNING in the store, re-run after restart
      q.status = "CANCELLED";
      break;
    case LakeOutcome::TimedOut:
      q.status = "TIMED_OUT";
      q.error = "The query timed out.";
      break;
  }
  if (q.status != "FINISHED") q.stats.rows = 0;
  // No partial results are delivered (AWS): only a FINISHED query's delivery goes ahead.
  if (!q.delivery_uri.empty()) q.delivery_status = q.status == "FINISHED" ? "PENDING" : q.status == "CANCELLED" ? "CANCELLED" : "FAILED";
  save(q);
  if (q.status != "FINISHED") erase_results(id);
  bool delivering = q.delivery_status == "PENDING";
  lock.unlock();
  if (delivering) deliver(id);
  return true;
}

void LakeStore::deliver(const std::string& id) {
  DeliveryRequest request;
  std::string status;
  {
    std::lock_guard lock(mutex_);
    auto it = queries_.find(id);
    if (it == queries_.end() || it->second.status != "FINISHED" || it->second.delivery_status != "PENDING") return;
    const Query& q = it->second;
    request.account = q.account;
    request.region = q.region;
    request.query_id = q.id;
    request.source_arn = "arn:aws:cloudtrail:" + q.region + ":" + q.account + ":eventdatastore/" + (q.eds_ids.empty() ? "" : q.eds_ids.front());
    request.policy_required = delivery_policy_required_;
    request.max_file_bytes = delivery_file_bytes_.load();
    try {
      request.target = parse_delivery_uri(q.delivery_uri);
    } catch (const std::exception&) {
      status = "FAILED";
    }
    if (!objects_ || !keys_) status = "FAILED";
  }
  if (status.empty()) {
    // The stored rows, one at a time: the result is never whole in memory.
    std::string prefix = result_prefix(id);
    auto rows = [&](const std::function<bool(const LakeRow&)>& row) {
      auto it = store_.iterate(store::Keyspace::Lake, prefix, prefix + std::string(8, '\xff'));
      LakeRow columns;
      for (it->seek(prefix); it->valid(); it->next()) {
        columns.clear();
        Value stored = protocol::json_to_value(it->value(), nullptr);
        if (stored.is_list())
          for (const Value& column : stored.as_list())
            if (column.is_map())
              for (const auto& [name, value] : column.as_map()) columns.emplace_back(name, value.is_string() ? value.as_string() : std::string());
        if (!row(columns)) return;
      }
    };
    status = deliver_query_results(*objects_, *keys_, request, rows, clock_.now_seconds());
  }
  std::lock_guard lock(mutex_);
  auto it = queries_.find(id);
  if (it == queries_.end()) return;  // reset meanwhile
  it->second.delivery_status = status;
  save(it->second);
}

// ---- collection and retention ----

void LakeStore::on_event(const BusEvent& event) {
  if (event.detail_type != "AWS API Call via CloudTrail") return;
  if (enabled_stores_.load(std::memory_order_relaxed) == 0) return;  // every API call: no lock, no parse
  Value parsed;
  const Value& record = call_record(event, parsed);
  std::string event_id(record.str("eventID"));
  auto time = parse_iso8601(record.str("eventTime"));
  if (event_id.empty() || !time) return;
  int64_t millis = static_cast<int64_t>(std::llround(*time * 1000));
  std::string json;
  store::WriteBatch batch(store_);
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, eds] : stores_) {
      const Value& s = eds.state;
      if (eds.account != event.account || s.str("Status") != "ENABLED") continue;
      if (!s.flag("MultiRegionEnabled", true) && eds.region != event.region) continue;
      if (!lake_selectors_match(*s.get("AdvancedEventSelectors"), record)) continue;
      if (!s.str("KmsKeyId").empty() && !kms_.problem_of(std::string(s.str("KmsKeyId"))).empty()) continue;  // AWS logs nothing while the key is unusable
      if (json.empty()) json = event.detail_json.empty() ? protocol::value_to_json(record, nullptr, /*keep_nulls=*/true) : event.detail_json;
      batch.put(store::Keyspace::Lake, lake_event_key(id, millis, event_id), json);
    }
  }
  if (!batch.empty()) store_.write(batch, store::Durability::Buffered);
}

bool LakeStore::wants_data_events(const std::string& account) const {
  if (data_stores_.load() == 0) return false;  // the common case: no lock on the PutLogEvents path
  std::lock_guard lock(mutex_);
  for (const auto& [id, eds] : stores_)
    if (eds.account == account && eds.state.str("Status") == "ENABLED" && lake_selectors_want_data(*eds.state.get("AdvancedEventSelectors"))) return true;
  return false;
}

void LakeStore::expire() {
  int64_t now = clock_.now_millis();
  store::WriteBatch batch(store_);
  std::vector<std::string> dropped_queries;
  {
    std::lock_guard lock(mutex_);
    for (auto it = stores_.begin(); it != stores_.end();) {
      const Eds& eds = it->second;
      std::string prefix = lake_event_prefix(eds.id);
      if (eds.state.str("Status") == "PENDING_DELETION" && eds.state.i64("DeletedMillis", now) + kPendingDeletionMillis <= now) {
        batch.erase_range(store::Keyspace::Lake, prefix, prefix + std::string(9, '\xff'));
        batch.erase(store::Keyspace::Meta, kEdsPrefix + eds.id);
        it = stores_.erase(it);
        continue;
      }
      std::string cutoff = prefix;
      append_u64(cutoff, order_i64(now - eds.state.i64("RetentionPeriod", 366) * kDayMillis));
      batch.erase_range(store::Keyspace::Lake, prefix, cutoff);
      ++it;
    }
    for (auto it = queries_.begin(); it != queries_.end();) {
      if (!active_query(it->second.status) && it->second.created_millis + kResultRetentionMillis <= now) {
        dropped_queries.push_back(it->first);
        batch.erase(store::Keyspace::Meta, kQueryPrefix + it->first);
        it = queries_.erase(it);
      } else {
        ++it;
      }
    }
    recount_data_stores();
  }
  for (const std::string& id : dropped_queries) {
    std::string prefix = result_prefix(id);
    batch.erase_range(store::Keyspace::Lake, prefix, prefix + std::string(9, '\xff'));
  }
  if (!batch.empty()) store_.write(batch);
}

}  // namespace vigil::cloudtrail
