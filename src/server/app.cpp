#include "server/app.h"

#include <algorithm>
#include <stdexcept>

#include "core/arn.h"
#include "core/event_bus.h"
#include "core/scheduler.h"
#include "http/http_server.h"
#include "server/accounts.h"
#include "server/dispatcher.h"
#include "server/unserved_service.h"
#include "services/cloudtrail/cloudtrail_service.h"
#include "services/cloudtrail/event_history.h"
#include "services/cloudtrail/insights.h"
#include "services/cloudtrail/trails.h"
#include "services/cloudwatch/cloudwatch_service.h"
#include "services/cloudwatch/metric_store.h"
#include "services/logs/log_store.h"
#include "services/logs/logs_service.h"
#include "services/kms/keys.h"
#include "services/kms/kms_service.h"
#include "services/s3/multipart.h"
#include "services/s3/object_store.h"
#include "services/s3/s3_service.h"
#include "services/sns/delivery.h"
#include "services/sns/sns_service.h"
#include "services/sns/topics.h"
#include "store/store.h"

namespace vigil::server {

namespace {

std::pair<std::string, unsigned short> split_listen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen must be HOST:PORT, got '" + listen + "'");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw std::runtime_error("--listen port must be 0-65535, got '" + listen.substr(colon + 1) + "'");
  return {host, static_cast<unsigned short>(port)};
}

cloudtrail::InsightsOptions insights_options(const AppOptions& o) {
  cloudtrail::InsightsOptions i;
  i.period_seconds = std::max(1, o.insights_period_seconds);
  i.baseline_seconds = std::max(o.insights_baseline_seconds, o.insights_period_seconds);
  i.min_history_seconds = std::max(0, o.insights_min_history_seconds);
  return i;
}

bool is_loopback_host(const std::string& host) { return host.rfind("127.", 0) == 0 || host == "::1" || host == "localhost"; }

}  // namespace

struct App::Impl {
  AppOptions options;
  const Clock& clock;
  Accounts accounts;
  std::unique_ptr<store::Store> store;
  EventBus bus;
  Scheduler scheduler;
  logs::LogStore log_store;
  logs::LogsService logs_service;
  cloudtrail::EventHistory history;
  s3::ObjectStore object_store;  // object bytes under <data-dir>/s3/, metadata in the store
  s3::MultipartUploads multipart_uploads{*store, object_store};  // parts next to the objects
  kms::KeyStore kms_keys{*store, clock, object_store.master_key()};  // sealed by the same master key
  kms::KmsService kms_service{kms_keys};
  cloudtrail::InsightDetector insights;  // fed by trails, ticked by the scheduler
  cloudtrail::TrailStore trails;  // writes log files into object_store as CloudTrail
  cloudtrail::LakeStore lake;     // event data stores and queries (its own worker thread)
  cloudtrail::CloudTrailService cloudtrail_service;
  s3::S3Service s3_service;
  cloudwatch::MetricStore metric_store{*store, clock};
  cloudwatch::MetricQueryEngine metric_queries{metric_store};
  cloudwatch::AlarmStore alarms{*store, clock, metric_queries, bus};
  cloudwatch::DashboardStore dashboards{*store, clock};
  cloudwatch::AnomalyDetectors anomaly_detectors{*store, clock};
  cloudwatch::CloudWatchService cloudwatch_service{metric_store, metric_queries, alarms, dashboards, anomaly_detectors, clock};
  sns::Topics sns_topics{*store, clock, &bus};
  sns::Delivery sns_delivery;  // outbound POSTs on its own thread
  sns::SnsService sns_service{sns_topics};
  Dispatcher dispatcher;
  std::unique_ptr<http::HttpServer> http;
  std::string host;
  unsigned short port;

  Impl(AppOptions o, const Clock& c)
      : options(std::move(o)),
        clock(c),
        accounts(options.config_path.empty() ? default_config() : load_config(options.config_path)),
        store(store::Store::open(options.data_dir)),
        scheduler(clock),
        log_store(*store, clock),
        logs_service(log_store, clock),
        history(*store, clock, &bus),
        object_store(*store, options.data_dir + "/s3"),
        insights(*store, clock, insights_options(options)),
        trails(*store, clock, object_store),
        lake(*store, clock),
        cloudtrail_service(history, trails, lake),
        s3_service(object_store, multipart_uploads),
        dispatcher(accounts, clock) {
    std::tie(host, port) = split_listen(options.listen);
    if (!is_loopback_host(host) && accounts.using_dev_credentials())
      throw std::runtime_error("refusing to listen on " + host +
                               " with the development credentials: configure accounts with their own keys and set dev_credentials = false");
    log_store.load();
    kms_keys.load();
    object_store.set_kms(&kms_keys);
    insights.load();
    trails.set_insights(&insights);
    trails.load();
    lake.load();
    metric_store.load();
    alarms.load();
    anomaly_detectors.load();
    anomaly_detectors.set_engine(&metric_queries);
    metric_queries.set_anomaly_detectors(&anomaly_detectors);
    // Alarm actions publish to SNS topics of the account and region named by the topic's ARN.
    alarms.set_sns_publisher([this](const std::string& account, const std::string&, const std::string& topic_arn,
                                    const std::string& subject, const std::string& message) -> std::string {
      // arn:aws:sns:<region>:<account>:<name>
      auto parts = split_arn(topic_arn);
      if (!parts) return "Invalid topic ARN " + topic_arn;
      if (parts->account != account) return "Topic " + topic_arn + " belongs to another account";
      return sns_topics.publish(std::string(parts->account), std::string(parts->region), topic_arn, subject, message) ? "" : "Topic " + topic_arn + " does not exist";
    });
    alarms.set_evaluation_interval(int64_t{std::max(1, options.alarm_evaluation_interval_seconds)} * 1000);
    // Trails: AWS's bucket policy requirement, SNS notifications and CloudWatch Logs delivery.
    trails.set_bucket_policy_required(true);
    // Lake query results (DeliveryS3Uri) go to the same S3, signed with the same keys.
    lake.set_delivery(&object_store, &trails.signing_keys(), true);
    // Trails' and event data stores' KmsKeyId: keys of the KMS service.
    cloudtrail::KmsLookup cloudtrail_kms;
    cloudtrail_kms.find = [this](const std::string& account, const std::string& region, const std::string& id) {
      return kms_keys.find_key(account, region, id);
    };
    cloudtrail_kms.problem = [this](const std::string& key_arn) -> std::string {
      auto state = kms_keys.key_state(key_arn);
      if (!state) return "NotFoundException";
      if (*state == "Disabled") return "DisabledException";
      if (*state == "PendingDeletion") return "KMSInvalidStateException";
      return {};
    };
    lake.set_kms(cloudtrail_kms);
    {
      cloudtrail::TrailHooks hooks;
      hooks.topic_exists = [this](const std::string& account, const std::string& region, const std::string& topic_arn) {
        try {
          sns_topics.get_topic_attributes(account, region, topic_arn);
          return true;
        } catch (const AwsError&) {
          return false;
        }
      };
      hooks.publish = [this](const std::string& account, const std::string& region, const std::string& topic_arn, const std::string& message) {
        return sns_topics.publish(account, region, topic_arn, "", message).has_value();
      };
      hooks.log_group_exists = [this](const std::string& account, const std::string& region, const std::string& group) {
        try {
          log_store.with_group(account, region, group, [](const logs::LogGroup&) {});
          return true;
        } catch (const AwsError&) {
          return false;
        }
      };
      hooks.put_log_events = [this](const std::string& account, const std::string& region, const std::string& group, const std::string& stream,
                                    const cloudtrail::TrailHooks::LogEvents& events) -> std::string {
        try {
          try {
            log_store.create_stream(account, region, group, stream);
          } catch (const AwsError& e) {
            if (e.code() != "ResourceAlreadyExistsException") throw;
          }
          // PutLogEvents' limits: 10,000 events, 1 MB (26 bytes per event overhead), 24 hours.
          std::vector<logs::InputEvent> batch;
          size_t bytes = 0;
          auto flush = [&] {
            if (!batch.empty()) log_store.put_events(account, region, group, stream, batch);
            batch.clear();
            bytes = 0;
          };
          for (const auto& event : events) {
            size_t size = event.second.size() + 26;
            if (!batch.empty() && (batch.size() >= 10000 || bytes + size > 1048576 || event.first - batch.front().timestamp >= 24LL * 3600 * 1000))
              flush();
            batch.push_back({event.first, event.second});
            bytes += size;
          }
          flush();
          return {};
        } catch (const AwsError& e) {
          return e.code();
        } catch (const std::exception&) {
          return "InternalFailure";
        }
      };
      hooks.kms = cloudtrail_kms;
      trails.set_hooks(std::move(hooks));
    }
    bus.subscribe([this](const BusEvent& event) { trails.on_event(event); });
    bus.subscribe([this](const BusEvent& event) { lake.on_event(event); });
    history.set_data_events_wanted(
        [this](const std::string& account) { return trails.wants_data_events(account) || lake.wants_data_events(account); });
    dispatcher.add_service(&logs_service);
    dispatcher.add_service(&cloudtrail_service);
    dispatcher.add_service(&cloudwatch_service);
    {
      protocol::RestOptions s3_options = protocol::default_rest_options(s3_service.model());
      if (accounts.config().s3_virtual_host_suffixes) s3_options.virtual_host_suffixes = *accounts.config().s3_virtual_host_suffixes;
      dispatcher.add_service(&s3_service, &s3_options);
    }
    sns_topics.load();
    sns_topics.set_sink([this](sns::Outbound m) { sns_delivery.enqueue(std::move(m)); });
    dispatcher.add_service(&sns_service);
    dispatcher.add_service(&kms_service);
    dispatcher.add_public_handler([this](const HttpRequest& r) { return sns_service.public_request(r); });
    if (accounts.config().record_api_calls) dispatcher.set_audit_sink([this](const ApiCall& call) { history.record(call); });
    dispatcher.set_reset_handler(
        [this] {
          // Between jobs: a flush or delivery that read state before the clear must not write it after.
          scheduler.while_idle([this] {
            store->clear_all();
            logs_service.reset();
            s3_service.reset();
            cloudtrail_service.reset();
            cloudwatch_service.reset();
            sns_service.reset();
            kms_service.reset();
          });
        },
        accounts.config().allow_reset);
    scheduler.every("logs-retention", std::chrono::minutes(10), [this] { log_store.enforce_retention(); });
    scheduler.every("event-history-expiry", std::chrono::hours(1), [this] { history.expire(); });
    scheduler.every("trail-delivery", std::chrono::seconds(std::max(1, options.trail_delivery_interval_seconds)), [this] { trails.deliver(); });
    // Alarms are due every minute (10 s for high-resolution periods); the job looks every second.
    scheduler.every("alarm-evaluation", std::chrono::seconds(1), [this] { alarms.evaluate_due(); });
    scheduler.every("alarm-history-expiry", std::chrono::hours(1), [this] { alarms.expire_history(); });
    // Roll-ups and retention of metric points (1 s -> 60 s -> 5 min -> 1 h, deleted after 455
    // days). A run rewrites at most an hour of points per series, so it stays short.
    // Staged metric points (one "W" record per PutMetricData call) become point records.
    scheduler.every("metric-staging-flush", std::chrono::seconds(1), [this] { metric_store.flush_staged(); });
    scheduler.every("metric-compaction", std::chrono::seconds(std::max(1, options.metric_compaction_interval_seconds)),
                    [this] { metric_store.compact(); });
    scheduler.every("lake-expiry", std::chrono::hours(1), [this] { lake.expire(); });
    // Insights: each closed period's events go to the event history (LookupEvents
    // EventCategory=insight) and the bus, where trails take them for delivery.
    scheduler.every("trail-insights", std::chrono::seconds(1), [this] {
      for (cloudtrail::InsightEvent& e : insights.tick()) {
        history.record_insight(e.account, e.region, e.record);
        BusEvent event;
        event.source = "aws.cloudtrail";
        event.detail_type = std::string(cloudtrail::kInsightDetailType);
        event.account = e.account;
        event.region = e.region;
        event.time = clock.now_seconds();
        event.detail = std::move(e.record);
        bus.publish(event);
      }
    });
    scheduler.every("trail-digest", std::chrono::seconds(std::max(1, options.trail_digest_interval_seconds)), [this] { trails.digest(); });
  }
};

App::App(AppOptions options, const Clock& clock) : impl_(std::make_unique<Impl>(std::move(options), clock)) {}
App::~App() = default;

unsigned short App::listen() {
  http::ServerOptions options;
  options.host = impl_->host;
  options.port = impl_->port;
  // Large S3 upload bodies go to a spool file next to the objects, not into memory.
  options.spool_dir = impl_->object_store.spool_dir();
  options.spool_plan = [impl = impl_.get()](const HttpRequest& head) {
    std::optional<SpoolPlan> plan = s3::S3Service::upload_spool_plan(head, impl->object_store);
    if (!plan) return plan;
    // Authenticated from the head: a request that fails is answered before its body is read,
    // so an unsigned or forged upload never puts gigabytes on the disk.
    if (auto refusal = impl->dispatcher.refuse_before_body(head, plan->head_authenticated_ms)) {
      plan->max_bytes = 0;
      plan->too_large = std::move(*refusal);
    }
    return plan;
  };
  impl_->http = std::make_unique<http::HttpServer>(options, [this](const HttpRequest& r) { return impl_->dispatcher.handle(r); });
  impl_->http->listen();
  impl_->port = impl_->http->bound_port();
  impl_->sns_topics.set_endpoint("http://" + (impl_->host.find(':') != std::string::npos ? "[" + impl_->host + "]" : impl_->host) + ":" + std::to_string(impl_->port));
  return impl_->port;
}

void App::run() {
  impl_->scheduler.start();
  impl_->sns_delivery.start();
  impl_->lake.start_worker();
  impl_->http->run();
  impl_->lake.stop_worker();
  impl_->sns_delivery.stop();
  impl_->scheduler.stop();
  impl_->store->sync();
}

void App::stop() {
  if (impl_->http) impl_->http->stop();
}

std::string App::banner() const {
  std::string host = impl_->host.find(':') != std::string::npos ? "[" + impl_->host + "]" : impl_->host;
  std::string text = "vigil " VIGIL_VERSION "\n";
  text += "data directory: " + impl_->options.data_dir + "\n";
  if (impl_->accounts.using_dev_credentials())
    text += "development credentials: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test (account 000000000000, any region)\n";
  text += "try: AWS_ENDPOINT_URL=http://" + host + ":" + std::to_string(impl_->port) +
          " AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 aws logs describe-log-groups\n";
  text += "vigil listening on http://" + host + ":" + std::to_string(impl_->port);
  return text;
}

}  // namespace vigil::server
