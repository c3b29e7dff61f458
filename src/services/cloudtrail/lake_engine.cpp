#include "services/cloudtrail/lake_engine.h"

#include <sqlite3.h>

#include <charconv>
#include <cmath>
#include <memory>

#include <re2/re2.h>

#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/json_codec.h"

namespace vigil::cloudtrail {

std::string lake_event_prefix(std::string_view eds_id) {
  std::string key = "e";
  key += eds_id;
  key += '\0';
  return key;
}

std::string lake_event_key(std::string_view eds_id, int64_t millis, std::string_view event_id) {
  std::string key = lake_event_prefix(eds_id);
  append_u64(key, order_i64(millis));
  key += event_id;
  return key;
}

namespace {

constexpr int kTimeColumn = 2;  // eventTime's position in lake_columns()
constexpr int64_t kPushdownSlackMillis = 1000;

struct Run {
  const store::Store* store;
  const Clock* clock;
  LakeRunStats* stats;
  const std::atomic<bool>* cancel = nullptr;
  int64_t deadline = 0;
  bool timed_out = false;
  bool declaring = false;  // inside a virtual table's own CREATE TABLE declaration
};

struct Table {
  Run* run;
  LakeSource source;
};

struct VTab {
  sqlite3_vtab base;
  Table* table;
};

struct Cursor {
  sqlite3_vtab_cursor base;
  Table* table;
  std::unique_ptr<store::Iterator> it;
  sqlite3_int64 rowid = 0;
  bool parsed = false;
  Value record;
};

std::string declare_schema() {
  std::string sql = "CREATE TABLE x(";
  bool first = true;
  for (const LakeColumn& c : lake_columns()) {
    if (!first) sql += ", ";
    first = false;
    sql += c.name;
    sql += c.kind == LakeColumn::Boolean ? " BOOLEAN" : " TEXT";
  }
  return sql + ")";
}

int x_connect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) {
  static const std::string schema = declare_schema();
  Run* run = static_cast<Table*>(aux)->run;
  // The authorizer would refuse the declaration's CREATE TABLE: it is ours, not the user's.
  run->declaring = true;
  int rc = sqlite3_declare_vtab(db, schema.c_str());
  run->declaring = false;
  if (rc != SQLITE_OK) return rc;
  auto* vtab = new VTab{};
  vtab->table = static_cast<Table*>(aux);
  *out = &vtab->base;
  return SQLITE_OK;
}

int x_disconnect(sqlite3_vtab* vtab) {
  delete reinterpret_cast<VTab*>(vtab);
  return SQLITE_OK;
}

// idxNum bit 1: a lower eventTime bound is argv[0]; bit 2: an upper bound follows it.
int x_best_index(sqlite3_vtab*, sqlite3_index_info* info) {
  int lower = -1, upper = -1;
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (!c.usable || c.iColumn != kTimeColumn) continue;
    if (lower < 0 && (c.op == SQLITE_INDEX_CONSTRAINT_GT || c.op == SQLITE_INDEX_CONSTRAINT_GE || c.op == SQLITE_INDEX_CONSTRAINT_EQ)) lower = i;
    else if (upper < 0 && (c.op == SQLITE_INDEX_CONSTRAINT_LT || c.op == SQLITE_INDEX_CONSTRAINT_LE || c.op == SQLITE_INDEX_CONSTRAINT_EQ)) upper = i;
  }
  if (lower >= 0 && upper < 0 && info->aConstraint[lower].op == SQLITE_INDEX_CONSTRAINT_EQ) upper = lower;
  int next = 1, idx = 0;
  if (lower >= 0) {
    info->aConstraintUsage[lower].argvIndex = next++;
    idx |= 1;
  }
  if (upper >= 0) {
    if (upper == lower) {
      idx |= 4;  // one value bounds both sides
    } else {
      info->aConstraintUsage[upper].argvIndex = next++;
      idx |= 2;
    }
  }
  info->idxNum = idx;
  info->estimatedCost = idx == 0 ? 1e9 : (idx & 4) || idx == 3 ? 1e3 : 1e6;
  // The scan runs in eventTime order: an ascending ORDER BY eventTime needs no sort.
  if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == kTimeColumn && !info->aOrderBy[0].desc) info->orderByConsumed = 1;
  return SQLITE_OK;
}

int x_open(sqlite3_vtab* vtab, sqlite3_vtab_cursor** out) {
  auto* cursor = new Cursor{};
  cursor->table = reinterpret_cast<VTab*>(vtab)->table;
  *out = &cursor->base;
  return SQLITE_OK;
}

int x_close(sqlite3_vtab_cursor* cur) {
  delete reinterpret_cast<Cursor*>(cur);
  return SQLITE_OK;
}

std::optional<int64_t> time_of(sqlite3_value* v) {
  if (sqlite3_value_type(v) != SQLITE_TEXT) return std::nullopt;
  const char* text = reinterpret_cast<const char*>(sqlite3_value_text(v));
  return text ? parse_lake_time(text) : std::nullopt;
}

void count_row(Cursor* c) {
  if (!c->it->valid()) return;
  c->table->run->stats->events_scanned++;
  c->table->run->stats->bytes_scanned += static_cast<int64_t>(c->it->value().size());
}

int x_filter(sqlite3_vtab_cursor* cur, int idx, const char*, int argc, sqlite3_value** argv) {
  auto* c = reinterpret_cast<Cursor*>(cur);
  const LakeSource& source = c->table->source;
  int64_t lower = source.min_millis, upper = INT64_MAX - kPushdownSlackMillis;
  int arg = 0;
  if ((idx & 1) && arg < argc)
    if (auto t = time_of(argv[arg++])) lower = std::max(lower, *t - kPushdownSlackMillis);
  if ((idx & 4) && argc > 0)
    if (auto t = time_of(argv[0])) upper = *t + kPushdownSlackMillis;
  if ((idx & 2) && arg < argc)
    if (auto t = time_of(argv[arg++])) upper = *t + kPushdownSlackMillis;
  std::string prefix = lake_event_prefix(source.eds_id);
  std::string from = prefix, to = prefix;
  append_u64(from, order_i64(lower));
  append_u64(to, order_i64(upper + 1));
  if (upper < lower) to = from;
  c->it = c->table->run->store->iterate(store::Keyspace::Lake, from, to);
  c->it->seek(from);
  c->parsed = false;
  c->rowid = 0;
  count_row(c);
  return SQLITE_OK;
}

int x_next(sqlite3_vtab_cursor* cur) {
  auto* c = reinterpret_cast<Cursor*>(cur);
  c->it->next();
  c->parsed = false;
  c->rowid++;
  count_row(c);
  return SQLITE_OK;
}

int x_eof(sqlite3_vtab_cursor* cur) { return !reinterpret_cast<Cursor*>(cur)->it->valid(); }

int x_column(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int column) {
  auto* c = reinterpret_cast<Cursor*>(cur);
  const auto& columns = lake_columns();
  if (column < 0 || static_cast<size_t>(column) >= columns.size()) return SQLITE_OK;
  const LakeColumn& col = columns[column];
  if (col.kind == LakeColumn::Time) {
    // The key holds the event time: no JSON parse for time-only queries.
    std::string_view key = c->it->key();
    size_t at = lake_event_prefix(c->table->source.eds_id).size();
    if (key.size() < at + 8) return SQLITE_OK;
    std::string text = format_lake_time(unorder_i64(read_u64(key, at)));
    sqlite3_result_text(ctx, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  if (!c->parsed) {
    try {
      c->record = protocol::json_to_value(c->it->value(), nullptr);
    } catch (const std::exception&) {
      c->record = Value();
    }
    c->parsed = true;
  }
  const Value* v = c->record.is_map() ? c->record.get(col.record_key) : nullptr;
  if (!v || v->is_null()) return SQLITE_OK;  // NULL
  switch (v->kind()) {
    case Value::Kind::Bool:
      sqlite3_result_int(ctx, v->as_bool() ? 1 : 0);
      break;
    case Value::Kind::Int:
      sqlite3_result_int64(ctx, v->as_int());
      break;
    case Value::Kind::Double:
      sqlite3_result_double(ctx, v->as_double());
      break;
    case Value::Kind::String:
      sqlite3_result_text(ctx, v->as_string().data(), static_cast<int>(v->as_string().size()), SQLITE_TRANSIENT);
      break;
    default: {
      std::string json = protocol::value_to_json(*v, nullptr, /*keep_nulls=*/true);
      sqlite3_result_text(ctx, json.data(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
    }
  }
  return SQLITE_OK;
}

int x_rowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid) {
  *rowid = reinterpret_cast<Cursor*>(cur)->rowid;
  return SQLITE_OK;
}

sqlite3_module make_module() {
  sqlite3_module m{};
  m.iVersion = 1;
  m.xCreate = nullptr;  // eponymous only: usable without CREATE VIRTUAL TABLE (read-only db)
  m.xConnect = x_connect;
  m.xBestIndex = x_best_index;
  m.xDisconnect = x_disconnect;
  m.xDestroy = x_disconnect;
  m.xOpen = x_open;
  m.xClose = x_close;
  m.xFilter = x_filter;
  m.xNext = x_next;
  m.xEof = x_eof;
  m.xColumn = x_column;
  m.xRowid = x_rowid;
  return m;
}

const sqlite3_module kModule = make_module();

// ---- Trino's functions, over Lake timestamp text ----

void result_string(sqlite3_context* ctx, const std::string& s) { sqlite3_result_text(ctx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }

std::string arg_text(sqlite3_value* v) {
  const unsigned char* t = sqlite3_value_text(v);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_value_bytes(v))) : std::string();
}

bool any_null(int argc, sqlite3_value** argv) {
  for (int i = 0; i < argc; ++i)
    if (sqlite3_value_type(argv[i]) == SQLITE_NULL) return true;
  return false;
}

// A timestamp argument (Lake text, or any form parse_lake_time takes); sets an error if bad.
std::optional<int64_t> arg_time(sqlite3_context* ctx, sqlite3_value* v) {
  std::string text = arg_text(v);
  auto t = parse_lake_time(text);
  if (!t) {
    std::string message = "Value cannot be cast to timestamp: " + text;
    sqlite3_result_error(ctx, message.c_str(), -1);
  }
  return t;
}

void fn_now(sqlite3_context* ctx, int, sqlite3_value**) {
  auto* run = static_cast<Run*>(sqlite3_user_data(ctx));
  result_string(ctx, format_lake_time(run->clock->now_millis()));
}

void fn_from_iso8601_timestamp(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (any_null(argc, argv)) return sqlite3_result_null(ctx);
  if (auto t = arg_time(ctx, argv[0])) result_string(ctx, format_lake_time(*t));
}

void fn_to_iso8601(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (any_null(argc, argv)) return sqlite3_result_null(ctx);
  if (auto t = arg_time(ctx, argv[0])) {
    std::string s = format_lake_time(*t);
    s[10] = 'T';
    result_string(ctx, s + "Z");
  }
}

void fn_from_unixtime(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (any_null(argc, argv)) return sqlite3_result_null(ctx);
  double seconds = sqlite3_value_double(argv[0]);
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e13) return sqlite3_result_error(ctx, "from_unixtime: value out of range", -1);
  result_string(ctx, format_lake_time(static_cast<int64_t>(std::floor(seconds * 1000))));
}

void fn_to_unixtime(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (any_null(argc, argv)) return sqlite3_result_null(ctx);
  if (auto t = arg_time(ctx, argv[0])) sqlite3_result_double(ctx, static_cast<double>(*t) / 1000.0);
}

// Milliseconds per fixed-size unit; 0 for month/quarter/year (calendar arithmetic).
int64_t unit_millis(const std::string& unit) {
  if (unit == "millisecond") return 1;
  if (unit == "second") return 1000;
  if (unit == "minute") return 60000;
  if (unit == "hour") return 3600000;
  if (unit == "day") return 86400000;
  if (unit == "week") return 7 * 86400000LL;
  return 0;
}

int months_of(const std::string& unit) { return unit == "month" ? 1 : unit == "quarter" ? 3 : unit == "year" ? 12 : 0; }

std::string unit_arg(sqlite3_value* v) {
  std::string unit = arg_text(v);
  for (char& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return unit;
}

void fn_date_trunc(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (any_null(argc, argv)) return sqlite3_result_null(ctx);
  std::string unit = unit_arg(argv[0]);
  auto t = arg_time(ctx, argv[1]);
  if (!t) return;
  int64_t ms = *t;
  if (unit == "week") {
    // Trino's weeks start on Monday; 1970-01-01 was a Thursday.
    int64_t day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t monday = day - ((day + 3) % 7 + 7) % 7;
    return result_string(ctx, format_lake_time(monday * 86400000));
  }
  if (int64_t step = unit_millis(unit)) {
    int64_t floored = ms >= 0 ? ms / step * step : -((-ms + step - 1) / step) * step;
    return result_string(ctx, format_lake_time(floored));
  }
  if (int months = months_of(unit)) {
    std::string s = format_lake_time(ms);
    int month = std::stoi(s.substr(5, 2));
    month = (month - 1) / months * months + 1;
    char buf[16];
    snprintf(buf, sizeof buf, "%02d", month);
    return result_string(ctx, s.substr(0, 5) + buf + "-01 00:00:00.000");
  }
  sqlite3_result_error(ctx, ("'" + unit + "' is not a valid Timestamp field").c_str(), -1);
}

int64_t add_months(int64_t ms, int64_t months) {
  std::string s = format_lake_time(ms);
  int64_t year = std::stoll(s.substr(0, 4));
  int64_t month = std::stoll(s.substr(5, 2)) - 1 + months;
  year += month >= 0 ? month / 12 : -((-month + 11) / 12);
  month = ((month % 12) + 12) % 12;
  int day = std::stoi(s.substr(8, 2));
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int last = kDays[month] + (month == 1 && leap ? 1 : 0);
  char buf[64];
  snprintf(buf, sizeof buf, "%04lld-%02lld-%02d", static_cast<long long>(year), static_cast<long long>(month + 1), std::min(day, last));
  auto date = parse_lake_time(buf);
  auto day_start = parse_lake_time(s.substr(0, 10));
  if (!date || !day_start) return INT64_MAX;  // outside years 0000-9999: the caller's range error
  return *date + (ms - *day_start);
}

void fn_date_add(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (any_null(argc, argv)) return sqlite3_result_null(ctx);
  std::string unit = unit_arg(argv[0]);
  int64_t n = sqlite3_value_int64(argv[1]);
  auto t = arg_time(ctx, argv[2]);
  if (!t) return;
  if (n > 1000000000 || n < -1000000000) return sqlite3_result_error(ctx, "date_add: value out of range", -1);
  int64_t result;
  if (int64_t step = unit_millis(unit)) result = *t + n * step;  // |n| <= 1e9: no overflow
  else if (int months = months_of(unit)) result = n * months > 12 * 10000 || n * months < -12 * 10000 ? INT64_MAX : add_months(*t, n * months);
  else return sqlite3_result_error(ctx, ("'" + unit + "' is not a valid Timestamp field").c_str(), -1);
  // Lake timestamps are years 0000-9999 (four digits keep text order = time order).
  static const int64_t kFirst = *parse_lake_time("0000-01-01"), kLast = *parse_lake_time("9999-12-31 23:59:59.999");
  if (result < kFirst || result > kLast) return sqlite3_result_error(ctx, "date_add: timestamp out of range", -1);
  result_string(ctx, format_lake_time(result));
}

void fn_date_diff(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (any_null(argc, argv)) return sqlite3_result_null(ctx);
  std::string unit = unit_arg(argv[0]);
  auto a = arg_time(ctx, argv[1]);
  if (!a) return;
  auto b = arg_time(ctx, argv[2]);
  if (!b) return;
  if (int64_t step = unit_millis(unit)) return sqlite3_result_int64(ctx, (*b - *a) / step);
  if (int months = months_of(unit)) {
    std::string sa = format_lake_time(*a), sb = format_lake_time(*b);
    int64_t diff = (std::stoll(sb.substr(0, 4)) - std::stoll(sa.substr(0, 4))) * 12 + std::stoll(sb.substr(5, 2)) - std::stoll(sa.substr(5, 2));
    // A partial month does not count (Trino): compare the day-and-time parts.
    if (diff > 0 && sb.substr(8) < sa.substr(8)) --diff;
    if (diff < 0 && sb.substr(8) > sa.substr(8)) ++diff;
    return sqlite3_result_int64(ctx, diff / months);
  }
  sqlite3_result_error(ctx, ("'" + unit + "' is not a valid Timestamp field").c_str(), -1);
}

void result_value(sqlite3_context* ctx, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Null:
      return sqlite3_result_null(ctx);
    case Value::Kind::Bool:
      return sqlite3_result_int(ctx, v.as_bool() ? 1 : 0);
    case Value::Kind::Int:
      return sqlite3_result_int64(ctx, v.as_int());
    case Value::Kind::Double:
      return sqlite3_result_double(ctx, v.as_double());
    case Value::Kind::String:
      return result_string(ctx, v.as_string());
    default:
      return result_string(ctx, protocol::value_to_json(v, nullptr, true));
  }
}

// element_at(map, key) / element_at(array, 1-based index) over the JSON text of a map or
// array column (requestParameters, resources...). NULL when absent, as Trino's.
void fn_element_at(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (any_null(argc, argv)) return sqlite3_result_null(ctx);
  Value container;
  try {
    container = protocol::json_to_value(arg_text(argv[0]), nullptr);
  } catch (const std::exception&) {
    return sqlite3_result_error(ctx, "element_at: the first argument is not a map or an array", -1);
  }
  if (container.is_map()) {
    const Value* v = container.get(arg_text(argv[1]));
    return v ? result_value(ctx, *v) : sqlite3_result_null(ctx);
  }
  if (container.is_list()) {
    int64_t index = sqlite3_value_int64(argv[1]);
    int64_t size = static_cast<int64_t>(container.size());
    if (index == 0) return sqlite3_result_error(ctx, "SQL array indices start at 1", -1);
    if (index < 0) index = size + index + 1;
    if (index < 1 || index > size) return sqlite3_result_null(ctx);
    return result_value(ctx, container.as_list()[static_cast<size_t>(index - 1)]);
  }
  sqlite3_result_error(ctx, "element_at: the first argument is not a map or an array", -1);
}

void fn_regexp_like(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (any_null(argc, argv)) return sqlite3_result_null(ctx);
  // RE2: linear time whatever the pattern (no catastrophic backtracking from user input).
  RE2 re(arg_text(argv[1]), RE2::Quiet);
  if (!re.ok()) return sqlite3_result_error(ctx, ("regexp_like: invalid pattern: " + re.error()).c_str(), -1);
  sqlite3_result_int(ctx, RE2::PartialMatch(arg_text(argv[0]), re) ? 1 : 0);
}

int authorize(void* arg, int action, const char*, const char*, const char*, const char*) {
  if (static_cast<Run*>(arg)->declaring) return SQLITE_OK;
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    default:
      return SQLITE_DENY;
  }
}

int progress(void* arg) {
  auto* run = static_cast<Run*>(arg);
  if (run->cancel && run->cancel->load()) return 1;
  if (run->deadline && run->clock->now_millis() > run->deadline) {
    run->timed_out = true;
    return 1;
  }
  return 0;
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

// One connection per query: tables, functions and guards installed, statement prepared.
struct Prepared {
  std::unique_ptr<sqlite3, DbCloser> db;
  std::vector<std::unique_ptr<Table>> tables;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt;
};

Prepared prepare(const LakeSql& sql, const std::vector<LakeSource>& sources, Run& run) {
  Prepared p;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  p.db.reset(raw);
  if (rc != SQLITE_OK) throw std::runtime_error("cannot open SQLite");
  sqlite3* db = p.db.get();
  // Sorts, GROUP BY and materialized WITH queries stay in SQLite's heap, which
  // set_memory_limit() caps: a runaway query fails with "out of memory" instead of filling
  // memory or a temp directory. Set before the authorizer, which refuses every PRAGMA.
  sqlite3_exec(db, "PRAGMA temp_store=MEMORY", nullptr, nullptr, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 16 << 20);
  sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1 << 20);
  sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
  sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 50);
  sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 10000);
  for (size_t i = 0; i < sql.targets.size() && i < sources.size(); ++i) {
    p.tables.push_back(std::make_unique<Table>(Table{&run, sources[i]}));
    sqlite3_create_module_v2(db, ("eds_" + std::to_string(i)).c_str(), &kModule, p.tables.back().get(), nullptr);
  }
  struct Fn {
    const char* name;
    int args;
    void (*f)(sqlite3_context*, int, sqlite3_value**);
    bool deterministic;
  };
  static const Fn kFunctions[] = {
      {"now", 0, fn_now, false},
      {"from_iso8601_timestamp", 1, fn_from_iso8601_timestamp, true},
      {"to_iso8601", 1, fn_to_iso8601, true},
      {"from_unixtime", 1, fn_from_unixtime, true},
      {"to_unixtime", 1, fn_to_unixtime, true},
      {"date_trunc", 2, fn_date_trunc, true},
      {"date_add", 3, fn_date_add, true},
      {"date_diff", 3, fn_date_diff, true},
      {"element_at", 2, fn_element_at, true},
      {"regexp_like", 2, fn_regexp_like, true},
  };
  for (const Fn& f : kFunctions)
    sqlite3_create_function_v2(db, f.name, f.args, SQLITE_UTF8 | (f.deterministic ? SQLITE_DETERMINISTIC : 0), &run, f.f, nullptr, nullptr, nullptr);
  sqlite3_set_authorizer(db, authorize, &run);
  sqlite3_progress_handler(db, 1000, progress, &run);

  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  rc = sqlite3_prepare_v3(db, sql.sql.data(), static_cast<int>(sql.sql.size()), 0, &stmt, &tail);
  p.stmt.reset(stmt);
  if (rc != SQLITE_OK) throw LakeSqlError(std::string("Query statement is invalid: ") + sqlite3_errmsg(db));
  if (!stmt) throw LakeSqlError("Query statement is empty.");
  for (const char* t = tail; t && *t; ++t)
    if (!std::isspace(static_cast<unsigned char>(*t))) throw LakeSqlError("Only one SELECT statement is allowed in a query.");
  if (!sqlite3_stmt_readonly(stmt)) throw LakeSqlError("Only SELECT statements are allowed in a query.");
  // QueryParameters are bound as text values, so a parameter is data whatever it holds. Trino
  // knows only `?`; SQLite's ?NNN, :name, @name and $name would otherwise be NULLs nobody set.
  int expected = sqlite3_bind_parameter_count(stmt);
  for (int i = 1; i <= expected; ++i)
    if (const char* name = sqlite3_bind_parameter_name(stmt, i))
      throw LakeSqlError("Query statement is invalid: unexpected parameter " + std::string(name) + "; use ? placeholders with QueryParameters.");
  if (static_cast<size_t>(expected) != sql.parameters.size())
    throw LakeSqlError("Incorrect number of parameters: expected " + std::to_string(expected) + " but found " + std::to_string(sql.parameters.size()));
  for (int i = 1; i <= expected; ++i) {
    const std::string& value = sql.parameters[static_cast<size_t>(i - 1)];
    if (sqlite3_bind_text(stmt, i, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT) != SQLITE_OK)
      throw LakeSqlError(std::string("Query parameter could not be bound: ") + sqlite3_errmsg(db));
  }
  return p;
}

// Trino prints doubles with a decimal point (2.0, not 2).
std::string double_text(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, ec == std::errc() ? end : buf);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

bool plain_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

}  // namespace

void LakeEngine::set_memory_limit(int64_t bytes) { sqlite3_hard_heap_limit64(bytes); }

void LakeEngine::check(const LakeSql& sql, const std::vector<LakeSource>& sources) const {
  LakeRunStats stats;
  Run run{&store_, &clock_, &stats};
  prepare(sql, sources, run);
}

LakeOutcome LakeEngine::run(const LakeSql& sql, const std::vector<LakeSource>& sources, const std::atomic<bool>& cancel, int64_t deadline_millis,
                            const std::function<void(const LakeRow&)>& on_row, LakeRunStats& stats, std::string& error) const {
  Run run{&store_, &clock_, &stats, &cancel, deadline_millis};
  Prepared p;
  try {
    p = prepare(sql, sources, run);
  } catch (const std::exception& e) {
    error = e.what();
    return LakeOutcome::Failed;
  }
  sqlite3_stmt* stmt = p.stmt.get();
  int n = sqlite3_column_count(stmt);
  // Column names as Trino gives them: the alias or column name, the field of a dotted
  // reference, `_colN` for an unnamed expression.
  std::vector<std::string> names;
  std::vector<bool> boolean;
  for (int i = 0; i < n; ++i) {
    std::string name = sqlite3_column_name(stmt, i) ? sqlite3_column_name(stmt, i) : "";
    std::string chosen;
    for (const auto& [expression, field] : sql.derived_names)
      if (expression == name) chosen = field;
    if (chosen.empty()) chosen = plain_name(name) ? name : "_col" + std::to_string(i);
    names.push_back(chosen);
    const char* decl = sqlite3_column_decltype(stmt, i);
    boolean.push_back(decl && std::string_view(decl) == "BOOLEAN");
  }
  LakeRow row(static_cast<size_t>(n));
  for (;;) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      if (rc == SQLITE_INTERRUPT) return run.timed_out ? LakeOutcome::TimedOut : LakeOutcome::Cancelled;
      error = sqlite3_errmsg(p.db.get());
      return LakeOutcome::Failed;
    }
    for (int i = 0; i < n; ++i) {
      row[i].first = names[i];
      std::string& value = row[i].second;
      switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER: {
          int64_t v = sqlite3_column_int64(stmt, i);
          value = boolean[i] ? (v ? "true" : "false") : std::to_string(v);
          break;
        }
        case SQLITE_FLOAT:
          value = double_text(sqlite3_column_double(stmt, i));
          break;
        case SQLITE_NULL:
          value.clear();
          break;
        default: {
          const unsigned char* text = sqlite3_column_text(stmt, i);
          value.assign(text ? reinterpret_cast<const char*>(text) : "", static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
        }
      }
    }
    stats.rows++;
    on_row(row);
    if (cancel.load()) return LakeOutcome::Cancelled;
  }
  return LakeOutcome::Finished;
}

}  // namespace vigil::cloudtrail
