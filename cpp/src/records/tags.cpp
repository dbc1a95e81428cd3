// Tags added to and removed from many records at once (Store::retag),
// through the write path: each changed record is written and audited, and
// its other tags stay as they were.
#include <algorithm>
#include <functional>
#include <unordered_set>

#include "batch.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

std::vector<int64_t> Store::retag(const std::string& kind_name, const std::vector<int64_t>& ids,
                                  const std::vector<std::string>& add, const std::vector<std::string>& remove) {
  WriteRequest req{WriteOp::Tags, &kind(kind_name), nullptr, ids};
  req.tags_added = add;
  req.tags_removed = remove;
  return write(req).ids;
}

void Store::retag_rows(const WriteRequest& req, WriteResult& result) {
  constexpr size_t kChunk = size_t{1} << 16;
  Impl& impl = *impl_;
  const Kind& k = *req.kind;
  // The tags to add are checked as a record's tags are (each one tag).
  Extras adding;
  try {
    adding.tags = read_tag_list(req.tags_added);
  } catch (const RowFailure& failure) {
    throw ValidationError(k.name, -1, failure.field, failure.reason);
  }
  const std::unordered_set<std::string> removing(req.tags_removed.begin(), req.tags_removed.end());
  std::vector<int64_t> ids;
  std::unordered_set<int64_t> seen;
  for (int64_t id : req.ids)
    if (seen.insert(id).second) ids.push_back(id);

  sql::Statement& read = impl.prepared("SELECT b.c0, r.id IS NOT NULL, r.tags FROM crm_batch(?1) AS b LEFT JOIN " +
                                       k.name + " AS r ON r.id = b.c0");
  sql::Statement& write = impl.prepared("UPDATE " + k.name + " SET tags = b.c1, updated_at = ?2 FROM crm_batch(?1) AS b"
                                        " WHERE " + k.name + ".id = b.c0");
  sql::Statement& drop =
      impl.prepared("DELETE FROM record_tags WHERE (tag, record_id) IN (SELECT c0, c1 FROM crm_batch(?1))");
  sql::Statement& log = impl.prepared(
      "INSERT INTO audit_log(at, op, kind, first_id, last_id, rows) SELECT ?2, 'update', ?3, c0, c0, 1"
      " FROM crm_batch(?1)");
  const int64_t now = now_ns();
  sql::Batch asked(1), lists(2), dropped(2), added(2), changed(1);
  // Steps `st` over `batch`, if it has rows, with the other parameters bound by `bind`.
  auto run = [&](sql::Statement& st, const sql::Batch& batch, const std::function<void()>& bind = {}) {
    if (batch.rows() == 0) return;
    if (bind) bind();
    if (sql::run_over_batch(st, batch) != SQLITE_DONE) sql::fail(impl.db, "cannot change the tags of " + k.name);
  };
  for (size_t begin = 0; begin < ids.size(); begin += kChunk) {
    asked.clear(), lists.clear(), dropped.clear(), added.clear(), changed.clear();
    for (size_t i = begin; i < std::min(ids.size(), begin + kChunk); ++i) asked.add_row()[0].set_int(ids[i]);
    sql::bind_batch(read, asked);
    while (read.step()) {
      const int64_t id = read.int64(0);
      if (read.int64(1) == 0) {
        read.reset();
        throw NotFound("no " + k.name + " record with id " + std::to_string(id));
      }
      const std::vector<std::string> before = split_tags(read.text(2));
      std::vector<std::string> after;
      for (const auto& tag : before) {
        if (!removing.count(tag)) {
          after.push_back(tag);
          continue;
        }
        sql::Cell* cells = dropped.add_row();
        cells[0].set_text(dropped.keep(tag));
        cells[1].set_int(id);
      }
      for (const auto& tag : adding.tags) {
        if (std::find(after.begin(), after.end(), tag) != after.end()) continue;
        after.push_back(tag);
        sql::Cell* cells = added.add_row();
        cells[0].set_text(&tag);
        cells[1].set_int(id);
      }
      if (after == before) continue;
      sql::Cell* cells = lists.add_row();
      cells[0].set_int(id);
      if (!after.empty()) cells[1].set_text(lists.keep(join_tags(after)));
      changed.add_row()[0].set_int(id);
      result.ids.push_back(id);
    }
    read.reset();
    run(write, lists, [&] { write.bind(2, now); });
    run(drop, dropped);
    run(impl.insert_tags_batch, added);
    run(log, changed, [&] { log.bind(2, now).bind(3, k.name); });
  }
}

}  // namespace crmcore::records
