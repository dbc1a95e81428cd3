// The PostgreSQL side of the boundary, over libpq. Parameters travel in
// binary (int8, float8) or as untyped text the server parses for the column
// it lands in; results come back as text and are parsed here, which keeps
// every column type readable. Bulk loads use binary COPY.
#include "crmcore/backend/backend.hpp"

#ifdef CRMCORE_HAVE_POSTGRES

#include <dlfcn.h>
#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "crmcore/cancel.hpp"

namespace crmcore::backend {

namespace {

// libpq is loaded at the first PostgreSQL open (dlopen), not linked: a
// SQLite user's wheel then carries no libpq, nor the OpenSSL, Kerberos and
// LDAP libraries it brings. The header gives the functions' types only.
#define CRM_LIBPQ_FUNCTIONS(X) \
  X(PQcancel) X(PQclear) X(PQcmdTuples) X(PQconnectdb) X(PQconsumeInput) X(PQerrorMessage) X(PQexec) \
  X(PQexecPrepared) X(PQfinish) X(PQfreeCancel) X(PQgetCancel) X(PQgetResult) X(PQgetisnull) \
  X(PQgetlength) X(PQgetvalue) X(PQisBusy) X(PQnfields) X(PQntuples) X(PQprepare) X(PQputCopyData) \
  X(PQputCopyEnd) X(PQresultErrorField) X(PQresultStatus) X(PQsendPrepare) X(PQsendQueryPrepared) \
  X(PQsetClientEncoding) X(PQsetNoticeProcessor) X(PQsocket) X(PQstatus)

struct Libpq {
#define CRM_LIBPQ_DECLARE(name) decltype(&::name) name = nullptr;
  CRM_LIBPQ_FUNCTIONS(CRM_LIBPQ_DECLARE)
#undef CRM_LIBPQ_DECLARE
};

Libpq load_libpq() {
  void* handle = nullptr;
  for (const char* file : {"libpq.so.5", "libpq.so", "libpq.5.dylib", "libpq.dylib"})
    if ((handle = dlopen(file, RTLD_NOW | RTLD_LOCAL))) break;
  if (!handle)
    throw BackendError(
        "PostgreSQL needs libpq, PostgreSQL's client library, which is not installed here "
        "(Debian/Ubuntu: apt-get install libpq5; elsewhere PostgreSQL's client package)",
        "", false);
  Libpq lib;
#define CRM_LIBPQ_RESOLVE(name)                                                          \
  lib.name = reinterpret_cast<decltype(lib.name)>(dlsym(handle, #name));                 \
  if (!lib.name)                                                                         \
    throw BackendError(std::string("the libpq installed here has no ") + #name +         \
                           " (PostgreSQL 10 or later is needed)",                        \
                       "", false);
  CRM_LIBPQ_FUNCTIONS(CRM_LIBPQ_RESOLVE)
#undef CRM_LIBPQ_RESOLVE
  return lib;
}

// Loaded once; a failed load is tried again at the next open (an exception
// leaves the static uninitialized).
const Libpq& pq() {
  static const Libpq lib = load_libpq();
  return lib;
}

// The type OIDs of PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr Oid kInt8Oid = 20;
constexpr Oid kFloat8Oid = 701;

std::string field(const PGresult* res, int code) {
  const char* v = res ? pq().PQresultErrorField(res, code) : nullptr;
  return v ? v : "";
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Network byte order, written without depending on htonl's width.
void put_be(std::string& buf, uint64_t v, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) buf.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Owns a PGresult.
struct Result {
  PGresult* res = nullptr;
  explicit Result(PGresult* r = nullptr) : res(r) {}
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result() { pq().PQclear(res); }
  void reset(PGresult* r) {
    pq().PQclear(res);
    res = r;
  }
};

class PgConnection;

class PgStatement : public Statement {
 public:
  PgStatement(PgConnection& conn, std::string sql, int params)
      : conn_(conn), sql_(std::move(sql)), types_(params, 0), values_(params), lengths_(params, 0),
        formats_(params, 0), is_null_(params, 1) {}
  void bind_int64(int pos, int64_t v) override {
    std::string& s = slot(pos, kInt8Oid, 1);
    s.clear();
    put_be(s, static_cast<uint64_t>(v), 8);
  }
  void bind_double(int pos, double v) override {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    std::string& s = slot(pos, kFloat8Oid, 1);
    s.clear();
    put_be(s, bits, 8);
  }
  void bind_text(int pos, std::string_view v) override {
    // Untyped text: the server infers the parameter's type from where it is
    // used (a text, date or json column alike) and parses it.
    if (v.find('\0') != std::string_view::npos)
      throw ValidationError("parameter", -1, "$" + std::to_string(pos),
                            "text holds a NUL character, which PostgreSQL cannot store");
    slot(pos, 0, 0).assign(v);
  }
  void bind_null(int pos) override {
    slot(pos, 0, 0);
    is_null_[static_cast<size_t>(pos - 1)] = 1;
  }
  bool step() override;
  bool is_null(int col) const override { return pq().PQgetisnull(result_.res, row_, col); }
  int64_t int64(int col) const override {
    const char* v = pq().PQgetvalue(result_.res, row_, col);
    if ((*v == 't' || *v == 'f') && v[1] == '\0') return *v == 't';  // booleans read as 1/0
    errno = 0;
    char* end = nullptr;
    long long out = std::strtoll(v, &end, 10);
    if (errno || end == v || *end) throw std::invalid_argument(std::string("not an integer: '") + v + "'");
    return out;
  }
  double real(int col) const override {
    const char* v = pq().PQgetvalue(result_.res, row_, col);
    // strtod reads PostgreSQL's NaN, Infinity and -Infinity as well.
    char* end = nullptr;
    double out = std::strtod(v, &end);
    if (end == v || *end) throw std::invalid_argument(std::string("not a number: '") + v + "'");
    return out;
  }
  std::string text(int col) const override {
    return std::string(pq().PQgetvalue(result_.res, row_, col),
                       static_cast<size_t>(pq().PQgetlength(result_.res, row_, col)));
  }
  int columns() const override { return result_.res ? pq().PQnfields(result_.res) : 0; }
  int64_t changes() const override { return changes_; }
  void reset() override {
    result_.reset(nullptr);
    ran_ = false;
    row_ = -1;
    std::fill(is_null_.begin(), is_null_.end(), 1);
    std::fill(types_.begin(), types_.end(), 0);
  }

 private:
  std::string& slot(int pos, Oid type, int format) {
    if (pos < 1 || pos > static_cast<int>(values_.size()))
      throw std::out_of_range("parameter " + std::to_string(pos) + " of " + std::to_string(values_.size()));
    size_t i = static_cast<size_t>(pos - 1);
    types_[i] = type;
    formats_[i] = format;
    is_null_[i] = 0;
    return values_[i];
  }
  // The server-side name of this statement for the current parameter types:
  // a statement is prepared once per combination of types it is run with.
  const std::string& prepared_name();

  PgConnection& conn_;
  std::string sql_;
  std::vector<Oid> types_;
  std::vector<std::string> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::vector<char> is_null_;
  std::vector<std::pair<std::vector<Oid>, std::string>> prepared_;
  Result result_;
  bool ran_ = false;
  int row_ = -1;
  int64_t changes_ = 0;
};

class PgLoader : public BulkLoader {
 public:
  PgLoader(PgConnection& conn, std::vector<ColumnType> types);
  ~PgLoader() override;
  void append(const std::vector<ColumnView>& cols, size_t rows) override;
  int64_t finish() override;

 private:
  void flush();
  PgConnection& conn_;
  std::vector<ColumnType> types_;
  std::string buf_;
  int64_t rows_ = 0;
  bool open_ = true;
};

class PgConnection : public Connection {
 public:
  explicit PgConnection(const std::string& dsn) : conn_(pq().PQconnectdb(dsn.c_str())) {
    if (!conn_ || pq().PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = conn_ ? trimmed(pq().PQerrorMessage(conn_)) : "out of memory";
      pq().PQfinish(conn_);
      conn_ = nullptr;
      // Connection failures (08xxx) are worth retrying: the server may be starting.
      throw BackendError("cannot connect to PostgreSQL: " + msg, "08001", true);
    }
    // Notices (NOTICE: table does not exist, skipping) are not errors, and a
    // library must not print to the user's stderr.
    pq().PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    // Text comes and goes as UTF-8 whatever the database's default.
    if (pq().PQsetClientEncoding(conn_, "UTF8") != 0) {
      std::string msg = trimmed(pq().PQerrorMessage(conn_));
      pq().PQfinish(conn_);
      throw BackendError("cannot set the client encoding to UTF8: " + msg, "", false);
    }
  }
  ~PgConnection() override { pq().PQfinish(conn_); }
  Engine engine() const override { return Engine::PostgreSQL; }
  void exec(const std::string& sql) override {
    Result r(pq().PQexec(conn_, sql.c_str()));
    check(r.res, "'" + sql.substr(0, 80) + "'");
  }
  std::unique_ptr<Statement> prepare(const std::string& sql) override {
    int params = 0;
    std::string text = number_placeholders(sql, &params);
    return std::make_unique<PgStatement>(*this, std::move(text), params);
  }
  void begin() override { exec("BEGIN"); }
  std::unique_ptr<BulkLoader> bulk_loader(const std::string& table, const std::vector<std::string>& columns,
                                          const std::vector<ColumnType>& types) override {
    std::string sql = "COPY " + table + " (" + column_list(table, columns, types) + ") FROM STDIN (FORMAT binary)";
    Result r(pq().PQexec(conn_, sql.c_str()));
    if (pq().PQresultStatus(r.res) != PGRES_COPY_IN) check(r.res, "cannot start '" + sql + "'");
    copy_table_ = table;
    return std::make_unique<PgLoader>(*this, types);
  }
  std::string last_error() const override { return last_error_; }
  void set_cancel(const Cancel* cancel) override { cancel_ = cancel; }

  // Prepares and runs statements; with a Cancel set, both wait for the
  // server in short polls so that a Ctrl-C can cancel the server's work
  // (preparing waits too: parsing takes the tables' locks).
  PGresult* prepare_named(const std::string& name, const std::string& sql, int n, const Oid* types);
  PGresult* run_prepared(const std::string& name, int n, const char* const* values, const int* lengths,
                         const int* formats);

  PGconn* raw() const { return conn_; }
  const std::string& copy_table() const { return copy_table_; }
  std::string next_name() { return "crm_" + std::to_string(++statements_); }

  // Throws for a failed result, with the SQLSTATE and what the server named.
  void check(const PGresult* res, const std::string& what, const std::string& table = "") {
    ExecStatusType st = res ? pq().PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
    fail(res, what, table);
  }
  [[noreturn]] void fail(const PGresult* res, const std::string& what, const std::string& table = "") {
    std::string primary = field(res, PG_DIAG_MESSAGE_PRIMARY);
    std::string msg = primary.empty() ? trimmed(pq().PQerrorMessage(conn_)) : primary;
    std::string detail = field(res, PG_DIAG_MESSAGE_DETAIL);
    if (!detail.empty()) msg += " (" + detail + ")";
    last_error_ = what + ": " + msg;
    std::string named_table = field(res, PG_DIAG_TABLE_NAME);
    raise(last_error_, field(res, PG_DIAG_SQLSTATE), named_table.empty() ? table : named_table,
          field(res, PG_DIAG_COLUMN_NAME), field(res, PG_DIAG_CONSTRAINT_NAME));
  }

 private:
  // The result of the command just sent, waited for with the Cancel's check.
  PGresult* wait_for_result();

  PGconn* conn_;
  const Cancel* cancel_ = nullptr;
  std::string last_error_;
  std::string copy_table_;
  int64_t statements_ = 0;
};

PGresult* PgConnection::run_prepared(const std::string& name, int n, const char* const* values, const int* lengths,
                                     const int* formats) {
  if (!cancel_) return pq().PQexecPrepared(conn_, name.c_str(), n, values, lengths, formats, 0);
  if (!pq().PQsendQueryPrepared(conn_, name.c_str(), n, values, lengths, formats, 0)) return nullptr;  // check() says why
  return wait_for_result();
}

PGresult* PgConnection::prepare_named(const std::string& name, const std::string& sql, int n, const Oid* types) {
  if (!cancel_) return pq().PQprepare(conn_, name.c_str(), sql.c_str(), n, types);
  if (!pq().PQsendPrepare(conn_, name.c_str(), sql.c_str(), n, types)) return nullptr;
  return wait_for_result();
}

PGresult* PgConnection::wait_for_result() {
  // The check takes Python's lock: asked every 50 ms, not on every packet.
  constexpr auto kAskEvery = std::chrono::milliseconds(50);
  auto asked = std::chrono::steady_clock::now();
  bool cancelled = false;
  while (pq().PQisBusy(conn_)) {
    pollfd wait{pq().PQsocket(conn_), POLLIN, 0};
    const int ready = poll(&wait, 1, static_cast<int>(kAskEvery.count()));
    if (ready < 0 && errno != EINTR) break;  // PQgetResult below reports the broken connection
    if (ready > 0 && !pq().PQconsumeInput(conn_)) break;
    const auto now = std::chrono::steady_clock::now();
    if (cancelled || now - asked < kAskEvery) continue;
    asked = now;
    if (cancel_->requested()) {
      // The server ends the statement (57014) and the connection stays usable;
      // the result is read to its end below either way.
      cancelled = true;
      if (PGcancel* c = pq().PQgetCancel(conn_)) {
        char ignored[256];
        pq().PQcancel(c, ignored, sizeof ignored);
        pq().PQfreeCancel(c);
      }
    }
  }
  PGresult* first = pq().PQgetResult(conn_);
  while (PGresult* more = pq().PQgetResult(conn_)) pq().PQclear(more);
  if (cancelled) {
    // Ctrl-C was taken from Python: it comes back as KeyboardInterrupt even
    // when the statement finished before the server saw the cancel.
    pq().PQclear(first);
    throw Interrupted();
  }
  return first;
}

const std::string& PgStatement::prepared_name() {
  for (const auto& [types, name] : prepared_)
    if (types == types_) return name;
  std::string name = conn_.next_name();
  Result r(conn_.prepare_named(name, sql_, static_cast<int>(types_.size()),
                               types_.empty() ? nullptr : types_.data()));
  conn_.check(r.res, "cannot prepare '" + sql_.substr(0, 80) + "'");
  prepared_.emplace_back(types_, std::move(name));
  return prepared_.back().second;
}

bool PgStatement::step() {
  if (!ran_) {
    const std::string& name = prepared_name();
    std::vector<const char*> ptrs(values_.size());
    for (size_t i = 0; i < values_.size(); ++i) {
      ptrs[i] = is_null_[i] ? nullptr : values_[i].c_str();
      lengths_[i] = static_cast<int>(values_[i].size());
    }
    result_.reset(conn_.run_prepared(name, static_cast<int>(values_.size()), ptrs.empty() ? nullptr : ptrs.data(),
                                     lengths_.empty() ? nullptr : lengths_.data(),
                                     formats_.empty() ? nullptr : formats_.data()));
    ran_ = true;
    conn_.check(result_.res, "'" + sql_.substr(0, 80) + "' failed");
    const char* n = pq().PQcmdTuples(result_.res);
    changes_ = *n ? std::strtoll(n, nullptr, 10) : 0;
  }
  ++row_;
  return row_ < pq().PQntuples(result_.res);
}

PgLoader::PgLoader(PgConnection& conn, std::vector<ColumnType> types) : conn_(conn), types_(std::move(types)) {
  // The binary COPY header: signature, flags (no OIDs), no extension area.
  buf_.append("PGCOPY\n\377\r\n\0", 11);
  put_be(buf_, 0, 4);
  put_be(buf_, 0, 4);
}

PgLoader::~PgLoader() {
  // Unfinished: abort the COPY so the connection is usable and nothing loads.
  if (open_) {
    pq().PQputCopyEnd(conn_.raw(), "bulk load abandoned");
    while (PGresult* r = pq().PQgetResult(conn_.raw())) pq().PQclear(r);
  }
}

void PgLoader::append(const std::vector<ColumnView>& cols, size_t rows) {
  if (!open_) throw std::logic_error("bulk load: append after finish");
  if (cols.size() != types_.size()) throw std::invalid_argument("bulk load: wrong number of columns");
  for (size_t c = 0; c < cols.size(); ++c)
    if (cols[c].type != types_[c])
      throw std::invalid_argument("bulk load: column " + std::to_string(c) + " has another type");
  for (size_t r = 0; r < rows; ++r) {
    const size_t row_start = buf_.size();  // a refused row leaves nothing behind
    put_be(buf_, cols.size(), 2);
    for (const ColumnView& col : cols) {
      if (col.nulls && col.nulls[r]) {
        put_be(buf_, 0xffffffffu, 4);  // length -1: NULL
      } else if (col.type == ColumnType::Int64) {
        put_be(buf_, 8, 4);
        put_be(buf_, static_cast<uint64_t>(col.ints[r]), 8);
      } else if (col.type == ColumnType::Double) {
        uint64_t bits;
        std::memcpy(&bits, &col.reals[r], sizeof bits);
        put_be(buf_, 8, 4);
        put_be(buf_, bits, 8);
      } else {
        const std::string& s = col.texts[r];
        if (s.find('\0') != std::string::npos) {
          buf_.resize(row_start);
          throw ValidationError(conn_.copy_table(), rows_ + 1, "",
                                "text holds a NUL character, which PostgreSQL cannot store");
        }
        put_be(buf_, s.size(), 4);
        buf_ += s;
      }
    }
    ++rows_;
    if (buf_.size() >= (1u << 20)) flush();
  }
}

void PgLoader::flush() {
  if (buf_.empty()) return;
  if (pq().PQputCopyData(conn_.raw(), buf_.data(), static_cast<int>(buf_.size())) != 1)
    throw BackendError("COPY into " + conn_.copy_table() + " failed: " + trimmed(pq().PQerrorMessage(conn_.raw())), "",
                       false);
  buf_.clear();
}

int64_t PgLoader::finish() {
  if (!open_) throw std::logic_error("bulk load: finish twice");
  put_be(buf_, 0xffff, 2);  // the trailer: a field count of -1
  flush();
  open_ = false;
  if (pq().PQputCopyEnd(conn_.raw(), nullptr) != 1)
    throw BackendError("COPY into " + conn_.copy_table() + " failed: " + trimmed(pq().PQerrorMessage(conn_.raw())), "",
                       false);
  Result r(pq().PQgetResult(conn_.raw()));
  // Drain whatever follows, so the connection is ready for the next command.
  while (PGresult* more = pq().PQgetResult(conn_.raw())) pq().PQclear(more);
  conn_.check(r.res, "COPY into " + conn_.copy_table(), conn_.copy_table());
  const char* n = pq().PQcmdTuples(r.res);
  return *n ? std::strtoll(n, nullptr, 10) : rows_;
}

}  // namespace

bool have_postgres() { return true; }

std::unique_ptr<Connection> open_postgres(const std::string& dsn) { return std::make_unique<PgConnection>(dsn); }

}  // namespace crmcore::backend

#else  // no libpq in this build

namespace crmcore::backend {

bool have_postgres() { return false; }

std::unique_ptr<Connection> open_postgres(const std::string&) {
  throw BackendError(
      "this crmcore was built without PostgreSQL support (libpq); "
      "install libpq-dev (Debian/Ubuntu) and rebuild",
      "", false);
}

}  // namespace crmcore::backend

#endif
