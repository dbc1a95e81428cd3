#include "crmcore/records/schema.hpp"

#include <limits>

#include "crmcore/errors.hpp"

namespace crmcore::records {

namespace {

Field text(std::string name, bool required = false) { return Field{std::move(name), FieldType::Text, required}; }
Field real(std::string name, bool required = false, double min = 0, double max = 0) {
  Field f{std::move(name), FieldType::Real, required};
  f.min = min;
  f.max = max;
  return f;
}
Field integer(std::string name, bool required = false, double min = 0, double max = 0) {
  Field f{std::move(name), FieldType::Integer, required};
  f.min = min;
  f.max = max;
  return f;
}
Field time(std::string name, bool required = false) { return Field{std::move(name), FieldType::Time, required}; }
// A sum of money, a price or a quantity: never below zero (a refund is a
// record of its own, not a negative order).
Field amount(std::string name, bool required = false) {
  return real(std::move(name), required, 0.0, std::numeric_limits<double>::infinity());
}
// A time that may lie at most `days` after the write.
Field time_until(std::string name, int days, bool required = false) {
  Field f = time(std::move(name), required);
  f.max_future_days = days;
  return f;
}
// The time something happened: up to a year after the write is allowed (an
// order dated by its delivery, a clock set wrong), later is a typing error.
Field happened(std::string name, bool required = false) { return time_until(std::move(name), 365, required); }
Field boolean(std::string name) { return Field{std::move(name), FieldType::Bool}; }
Field ref(std::string name, std::string kind, bool required = false) {
  Field f{std::move(name), FieldType::Ref, required};
  f.ref_kind = std::move(kind);
  return f;
}
Field any_ref(std::string name) { return Field{std::move(name), FieldType::AnyRef, true}; }
Field choice(std::string name, std::vector<std::string> choices, std::string default_value = "",
             bool required = false) {
  Field f{std::move(name), FieldType::Text, required};
  f.choices = std::move(choices);
  f.default_value = std::move(default_value);
  return f;
}
Field lookup(std::string name, Lookup how) {
  Field f{std::move(name), FieldType::Text};
  f.lookup = how;
  return f;
}

Field since(Field f, int version) {
  f.since_version = version;
  return f;
}

// A field the write path's rules fill (see Field::written_by_store).
Field by_store(Field f) {
  f.written_by_store = true;
  return f;
}

// Schema version 6: pipelines are data (their stages in order, each with a
// default probability, a category and labels in other languages), and a
// deal knows its pipeline and how it came to its stage; each stage change
// leaves a history row saying from where, by whom and why (see stage_rules.cpp).
void add_sales_v6(std::vector<Kind>& k) {
  Field name = text("name", true);
  name.unique = true;
  k.push_back({"pipelines", {name, boolean("is_default"), text("description")}, false, 6});
  k.push_back({"pipeline_stages",
               {ref("pipeline_id", "pipelines", true), text("name", true), integer("position", false, -1e9, 1e9),
                real("probability", false, 0.0, 1.0), choice("category", {"open", "won", "lost"}, "open", true),
                text("labels")},
               /*cascade_on_delete=*/true, 6});
  for (size_t i = k.size() - 2; i < k.size(); ++i)
    for (const char* external : {kExternalSource, kExternalId}) k[i].fields.push_back(since(text(external), 4));
  for (auto& kind : k) {
    if (kind.name == "deals")
      for (Field f : {by_store(ref("pipeline_id", "pipelines")), by_store(time("stage_changed_at")),
                      ref("stage_changed_by", "staff"), text("stage_reason")})
        kind.fields.push_back(since(std::move(f), 6));
    if (kind.name == "deal_stages")
      for (Field f : {text("from_stage"), ref("by_id", "staff"), text("reason")})
        kind.fields.push_back(since(std::move(f), 6));
  }
}

// Schema version 9 (service, marketing, care): a ticket has a status that
// moves through a workflow (see ticket_rules.cpp), an assignee and an
// escalation level, and each status change leaves a ticket_events row; SLA
// targets are data (sla_policies: per severity and customer tier, in business
// hours); segments are saved queries; a campaign member may be held out as
// control and knows when it was touched; a person customer has a birthday,
// and a customer a service tier and a preferred channel.
constexpr int kServiceVersion = 9;

void add_service_v9(std::vector<Kind>& k) {
  const int v = kServiceVersion;
  for (auto& kind : k) {
    std::vector<Field> added;
    if (kind.name == "tickets")
      added = {text("subject"),
               by_store(choice("status",
                               {"new", "assigned", "in_progress", "waiting", "resolved", "closed", "reopened"}, "new")),
               ref("assignee_id", "staff"), by_store(time("status_changed_at")), ref("status_changed_by", "staff"),
               text("status_reason"), integer("escalation", false, 0, 100), happened("escalated_at")};
    if (kind.name == "customers")
      added = {time_until("birthday", 0), text("tier"),
               choice("preferred_channel", {"call", "visit", "email", "message", "meeting"})};
    if (kind.name == "campaign_members") added = {boolean("holdout"), happened("touched_at")};
    for (Field& f : added) kind.fields.push_back(since(std::move(f), v));
  }
  k.push_back({"ticket_events",
               {ref("ticket_id", "tickets", true), text("status", true), text("from_status"),
                by_store(happened("changed_at", true)), ref("by_id", "staff"), text("reason")},
               /*cascade_on_delete=*/true, v});
  k.push_back({"sla_policies",
               {choice("severity", {"low", "medium", "high", "critical"}, "", true), text("tier"),
                real("first_response_hours", true, 0.0, 1e6), real("resolution_hours", true, 0.0, 1e6)},
               false, v});
  Field segment_name = text("name", true);
  segment_name.unique = true;
  k.push_back({"segments",
               {segment_name, text("kind"), text("filters", true), text("description"), time("evaluated_at"),
                text("members")},
               false, v});
  for (size_t i = k.size() - 3; i < k.size(); ++i)
    for (const char* external : {kExternalSource, kExternalId}) k[i].fields.push_back(since(text(external), v));
}

// Schema version 18 (service, issue 12): an interaction may name the date by
// which the customer is to be contacted again, so that the timeline checks
// can tell a promise kept from one forgotten (db.service.check_timeline).
constexpr int kFollowUpVersion = 18;

void add_follow_up(std::vector<Kind>& k) {
  for (auto& kind : k)
    if (kind.name == "interactions") kind.fields.push_back(since(time("next_contact_at"), kFollowUpVersion));
}

// Schema version 10, sales operations (issue 11): the history of a deal's
// expected close (so a slip can be seen after the fact), targets, contracts,
// invoices with their lines, payments allocated to invoices, projects and
// their milestones (kSalesOpsVersion). Their rules run in the write path
// (stage_rules.cpp, sales_rules.cpp).
void add_sales_ops(std::vector<Kind>& k) {
  const size_t first_new = k.size();
  k.push_back({"deal_close_dates",
               {ref("deal_id", "deals", true), time("expected_close"), time("previous"),
                by_store(happened("changed_at", true)), ref("by_id", "staff")},
               /*cascade_on_delete=*/true, kSalesOpsVersion});
  k.push_back({"targets",
               {ref("staff_id", "staff"), text("team"), text("period", true),
                choice("metric",
                       {"bookings", "deals_won", "margin", "new_customers", "activities", "invoiced", "collected"},
                       "bookings", true),
                amount("amount", true)},
               false, kSalesOpsVersion});
  k.push_back({"contracts",
               {ref("customer_id", "customers", true), ref("deal_id", "deals"), text("name"), amount("value"),
                time("started_at"), time("ends_at"), time("renewal_at"), ref("owner_id", "staff"),
                choice("status", {"draft", "active", "expired", "cancelled", "renewed"}, "active", true)},
               false, kSalesOpsVersion});
  k.push_back({"invoices",
               {ref("customer_id", "customers", true), ref("contract_id", "contracts"), ref("deal_id", "deals"),
                text("number"), time("issued_at", true), time("due_at", true), by_store(amount("amount")),
                ref("owner_id", "staff"),
                by_store(choice("status", {"draft", "issued", "paid", "void"}, "issued", true))},
               false, kSalesOpsVersion});
  // Lines own nothing but their invoice: a cascading kind deletes with
  // every record it refers to.
  k.push_back({"invoice_lines",
               {ref("invoice_id", "invoices", true), text("description"), amount("quantity", true),
                amount("unit_price", true), real("tax_rate", false, 0.0, 1.0)},
               /*cascade_on_delete=*/true, kSalesOpsVersion});
  k.push_back({"projects",
               {text("name", true), ref("customer_id", "customers"), ref("deal_id", "deals"),
                ref("contract_id", "contracts"), ref("owner_id", "staff"),
                choice("status", {"planned", "active", "done", "cancelled"}, "active", true), time("started_at"),
                time("due_at"), time("done_at")},
               false, kSalesOpsVersion});
  k.push_back({"milestones",
               {ref("project_id", "projects", true), text("name", true), time("planned_at"), time("done_at"),
                choice("status", {"planned", "done", "cancelled"}, "planned", true)},
               /*cascade_on_delete=*/true, kSalesOpsVersion});
  for (size_t i = first_new; i < k.size(); ++i)
    for (const char* external : {kExternalSource, kExternalId}) k[i].fields.push_back(since(text(external), 4));
  for (size_t i = 0; i < first_new; ++i) {
    if (k[i].name == "deals")
      for (Field f : {by_store(time("close_changed_at")), ref("close_changed_by", "staff")})
        k[i].fields.push_back(since(std::move(f), kSalesOpsVersion));
    if (k[i].name == "payments") k[i].fields.push_back(since(ref("invoice_id", "invoices"), kSalesOpsVersion));
  }
}

// Schema version 17, customer credit and regional targets (issue 11): a
// payment may say that what it brings beyond its invoice's open balance is
// kept as the customer's credit (payments.overpayment = "credit"; the store
// fills payments.credit with the part kept), credit_applications spend that
// credit on later invoices, and a target may be for a region (the
// customers') instead of a person or a team. The rules are in sales_rules.cpp.
constexpr int kSalesCreditsVersion = 17;

void add_sales_credits(std::vector<Kind>& k) {
  const int v = kSalesCreditsVersion;
  for (auto& kind : k) {
    if (kind.name == "payments")
      for (Field f : {choice("overpayment", {"refuse", "credit"}), by_store(amount("credit"))})
        kind.fields.push_back(since(std::move(f), v));
    if (kind.name == "targets") kind.fields.push_back(since(text("region"), v));
  }
  // An application is a spending of credit, so it goes with its invoice.
  k.push_back({"credit_applications",
               {ref("customer_id", "customers", true), ref("invoice_id", "invoices", true), amount("amount", true),
                happened("applied_at", true), text("note")},
               /*cascade_on_delete=*/true, v});
  for (const char* external : {kExternalSource, kExternalId}) k.back().fields.push_back(since(text(external), v));
}

// Schema version 19, product-line targets and task schedules (issue 11): a
// target may name a product category (products.category), counting only the
// order lines of that category; a task may carry a reminder and a
// recurrence (daily, weekly, monthly or yearly, every `recur_every` periods
// until `recur_until`). Completing a recurring task makes its next
// occurrence in the write path (task_rules.cpp), which fills `done_at`,
// `series_start` (the first due time, whose day of the month the series
// keeps) and `next_task_id` (the occurrence it made, made once).
constexpr int kSchedulesVersion = 19;

void add_schedules(std::vector<Kind>& k) {
  const int v = kSchedulesVersion;
  for (auto& kind : k) {
    if (kind.name == "targets") kind.fields.push_back(since(text("product_category"), v));
    if (kind.name != "tasks") continue;
    Field every = integer("recur_every", false, 1, 1000);
    every.default_value = "1";
    for (Field f : {time("remind_at"), choice("recurrence", {"daily", "weekly", "monthly", "yearly"}), every,
                    time("recur_until"), by_store(time("series_start")), by_store(ref("next_task_id", "tasks")),
                    by_store(time("done_at"))})
      kind.fields.push_back(since(std::move(f), v));
  }
}

// Schema version 12: automation (rules as data, the outbox their messages
// wait in, the runs of time-triggered rules) and membership (programmes,
// tiers, members and the points ledger). See cpp/src/automation/.
constexpr int kAutomationVersion = 12;

void add_automation(std::vector<Kind>& k) {
  const int v = kAutomationVersion;
  Field rule_name = text("name", true);
  rule_name.unique = true;
  Field active = boolean("active");
  active.default_value = "true";
  k.push_back({"automation_rules",
               {rule_name, active,
                choice("trigger", {"created", "changed", "date", "score", "schedule", "playbook"}, "", true),
                text("record_kind", true), text("field"), real("threshold"), integer("offset_days", false, -36600, 36600),
                boolean("annual"), integer("every_days", false, 0, 36600), text("condition"), text("actions", true),
                text("playbook"), time("last_run_at"), text("description")},
               false, v});
  k.push_back({"outbox",
               {choice("channel", {"email", "sms", "wechat"}, "email", true), text("to_address"), text("subject"),
                text("body"), choice("status", {"queued", "sending", "sent", "failed"}, "queued", true),
                integer("attempts", false, 0, 1e9), text("error"), ref("rule_id", "automation_rules"),
                integer("record_id", false, 0, 9e18), ref("customer_id", "customers"), time("sent_at"),
                text("message_id")},
               false, v});
  k.push_back({"automation_runs",
               {ref("rule_id", "automation_rules", true), integer("record_id", true, 0, 9e18), time("occasion"),
                real("value")},
               /*cascade_on_delete=*/true, v});
  Field programme = text("name", true);
  programme.unique = true;
  k.push_back({"membership_programs",
               {programme, real("points_per_unit", false, 0.0, 1e9), integer("expiry_days", false, 0, 36600),
                text("description")},
               false, v});
  k.push_back({"member_tiers",
               {ref("program_id", "membership_programs", true), text("name", true), amount("min_points"),
                amount("min_spend"), integer("window_days", false, 0, 36600), text("benefits")},
               /*cascade_on_delete=*/true, v});
  k.push_back({"members",
               {ref("program_id", "membership_programs", true), ref("customer_id", "customers", true),
                happened("joined_at", true), text("tier"), time("tier_changed_at"), text("tier_reason"),
                choice("status", {"active", "left"}, "active", true)},
               false, v});
  // Points are signed: earning adds, redeeming and expiry take away, so a
  // balance on any date is the sum of the entries up to it.
  k.push_back({"points_ledger",
               {ref("member_id", "members", true), happened("at", true), real("points", true),
                choice("reason", {"earn", "redeem", "expire", "adjust"}, "", true), ref("order_id", "orders"),
                time("expires_at"), ref("rule_id", "automation_rules"), text("note")},
               /*cascade_on_delete=*/true, v});
  for (size_t i = k.size() - 7; i < k.size(); ++i)
    for (const char* external : {kExternalSource, kExternalId}) k[i].fields.push_back(since(text(external), v));
}

// Schema version 11: suppliers, partners and stock. A supplier or a partner
// is a role of a customers record (one organisation may be customer,
// supplier and partner at once), so it keeps its contacts, tags and links.
// Stock has no table of levels: it is the sum of stock_movements, which the
// stock rules (cpp/src/stock/stock_rules.cpp) check on every write.
constexpr int kStockVersion = 11;

void add_stock_v11(std::vector<Kind>& k) {
  const auto v = [](Field f) { return since(std::move(f), kStockVersion); };
  for (auto& kind : k) {
    if (kind.name == "customers")
      for (Field f : {boolean("is_supplier"), boolean("is_partner"), ref("partner_id", "customers")})
        kind.fields.push_back(v(std::move(f)));
    if (kind.name == "products")
      for (Field f : {ref("supplier_id", "customers"), amount("reorder_point"), amount("reorder_quantity")})
        kind.fields.push_back(v(std::move(f)));
    if (kind.name == "orders" || kind.name == "deals") kind.fields.push_back(v(ref("partner_id", "customers")));
    // A complaint about a product leads back to the product's supplier.
    if (kind.name == "tickets") kind.fields.push_back(v(ref("product_id", "products")));
  }
  std::vector<Kind> added;
  Field location_name = text("name", true);
  location_name.unique = true;
  added.push_back({"locations", {location_name, text("address"), boolean("allows_backorders")}});
  added.push_back({"purchase_orders",
                   {ref("supplier_id", "customers", true), ref("location_id", "locations", true),
                    happened("ordered_at", true), time("expected_at"), text("status")}});
  // received_quantity and received_at are the stock rules' to write: the sum
  // and the last of the line's receipts.
  added.push_back({"purchase_lines",
                   {ref("purchase_order_id", "purchase_orders", true), ref("product_id", "products", true),
                    amount("quantity", true), amount("unit_cost", true), time("expected_at"),
                    by_store(amount("received_quantity")), by_store(time("received_at"))},
                   /*cascade_on_delete=*/true});
  // quantity: positive, except an adjustment's, which is the signed change.
  added.push_back({"stock_movements",
                   {choice("type", {"receipt", "shipment", "return", "adjustment", "transfer"}, "", true),
                    ref("product_id", "products", true), ref("location_id", "locations", true),
                    ref("to_location_id", "locations"), real("quantity", true), by_store(amount("unit_cost")),
                    happened("moved_at", true), text("reason"), ref("purchase_line_id", "purchase_lines"),
                    ref("order_id", "orders")}});
  // A rule with no partner applies to every partner, with no category to
  // every category; the most specific rule in force on the sale's date wins.
  added.push_back({"commission_rules",
                   {ref("partner_id", "customers"), text("category"), real("rate", true, 0.0, 1.0),
                    choice("basis", {"order", "payment", "invoice"}, "order", true), time("valid_from"),
                    time("valid_until")}});
  for (auto& kind : added) {
    kind.since_version = kStockVersion;
    for (const char* external : {kExternalSource, kExternalId}) kind.fields.push_back(since(text(external), 4));
    k.push_back(std::move(kind));
  }
}

// Schema version 16 (partner tiers): a commission rule may be one band of a
// tier scale, in force for the part of a partner's sales beyond `tier_from`
// in the period (partners.py); an invoice may name the order it bills, so
// that a commission paid on invoice (or on the invoice's payments) finds its
// sale. ("invoice" as a basis needs no column: choices are checked in C++.)
constexpr int kPartnerTiersVersion = 16;

void add_partner_tiers(std::vector<Kind>& k) {
  for (auto& kind : k) {
    if (kind.name == "commission_rules") kind.fields.push_back(since(amount("tier_from"), kPartnerTiersVersion));
    if (kind.name == "invoices") kind.fields.push_back(since(ref("order_id", "orders"), kPartnerTiersVersion));
  }
}

// Schema version 7 (access): the organisation as records and the access
// rules as data. Staff get a role, a team and a manager (the reporting
// hierarchy); departments hold teams; territories are cells of any grid of
// dimensions (region, product line, ...) whose members are staff and
// records; owners are references to staff. The rules (crmcore/access) read
// these kinds; nothing in the write path depends on them.
constexpr int kAccessVersion = 7;

void add_access_v7(std::vector<Kind>& k) {
  auto v7 = [](Field f) { return since(std::move(f), kAccessVersion); };
  auto external = [&](Kind kind) {
    for (const char* name : {kExternalSource, kExternalId}) kind.fields.push_back(since(text(name), 4));
    return kind;
  };
  for (auto& kind : k) {
    if (kind.name == "staff")
      for (Field f : {choice("role", {"admin", "manager", "sales", "service", "analyst"}, "sales"),
                      ref("team_id", "teams"), ref("manager_id", "staff")})
        kind.fields.push_back(v7(std::move(f)));
    if (kind.name == "customers" || kind.name == "contacts" || kind.name == "tickets")
      kind.fields.push_back(v7(ref("owner_id", "staff")));
  }
  k.push_back(external({"departments", {text("name", true), ref("manager_id", "staff")}, false, kAccessVersion}));
  k.push_back(external({"teams",
                        {text("name", true), ref("department_id", "departments"), ref("manager_id", "staff")},
                        false, kAccessVersion}));
  k.push_back(
      external({"territories", {text("name", true), text("dimension", true)}, false, kAccessVersion}));
  // member_id: a staff member (who works the cell) or a record (which lies in it).
  k.push_back(external({"territory_members", {ref("territory_id", "territories", true), any_ref("member_id")},
                        /*cascade_on_delete=*/true, kAccessVersion}));
  // One record (record_id) or a whole book (owner_id) shared with one
  // person (staff_id) or a team (team_id), to read or to edit. record_id is
  // a plain number: a share may name a record of any kind.
  k.push_back(external({"access_shares",
                        {integer("record_id", false, 1, 9.2e18), ref("owner_id", "staff"), ref("staff_id", "staff"),
                         ref("team_id", "teams"), choice("level", {"read", "edit"}, "read", true)},
                        false, kAccessVersion}));
  // A field hidden from (or, for phone fields, masked for) a role.
  k.push_back(external({"access_field_rules",
                        {text("kind", true), text("field", true), text("role", true),
                         choice("action", {"hide", "mask"}, "hide", true)},
                        false, kAccessVersion}));
  Field setting = text("name", true);
  setting.unique = true;
  k.push_back(external({"access_settings", {setting, text("value")}, false, kAccessVersion}));
}

// Schema version 13 (access): the free-text owners a store had are matched
// with staff names when it is opened (owner_migration.cpp), and what could not
// be matched is kept as records, readable afterwards; a staff member who leaves
// is deactivated, since the history they made keeps naming them.

void add_access_v13(std::vector<Kind>& k) {
  for (auto& kind : k)
    if (kind.name == "staff") kind.fields.push_back(since(boolean("active"), kOwnerMigrationVersion));
  // A row goes with its customer (cascade): it is about that customer only.
  k.push_back({"owner_migration",
               {ref("customer_id", "customers", true), text("owner"), text("reason", true),
                since(text(kExternalSource), 4), since(text(kExternalId), 4)},
               /*cascade_on_delete=*/true, kOwnerMigrationVersion});
}

std::vector<Kind> make_kinds() {
  std::vector<Kind> k;
  k.push_back({"customers",
               {text("name", true), choice("kind", {"organization", "person"}, "person"),
                lookup("phone", Lookup::Phone), lookup("email", Lookup::Email), text("address"),
                text("region"), text("industry"), text("source"), text("owner"), text("status")}});
  k.push_back({"contacts",
               {text("name", true), text("title"), lookup("phone", Lookup::Phone),
                lookup("email", Lookup::Email), text("preferences"), time_until("birthday", 0), text("region")}});
  k.push_back({"staff",
               {text("name", true), lookup("email", Lookup::Email), lookup("phone", Lookup::Phone),
                text("team"), text("department"), text("title")}});
  k.push_back({"customer_contacts",
               {ref("customer_id", "customers", true), ref("contact_id", "contacts", true), text("role"),
                boolean("is_primary"), time("since"), time("until")},
               /*cascade_on_delete=*/true, /*since_version=*/1,
               // Schema version 5.
               {{"pair", {"customer_id", "contact_id"}, "", "a customer and a contact are linked once"},
                {"primary", {"contact_id"}, "is_primary", "a contact is primary at one customer at most"}}});
  {
    Field sku = text("sku", true);
    sku.unique = true;
    k.push_back({"products",
                 {sku, text("name", true), text("category"), amount("list_price"), amount("unit_cost")}});
    k.back().catalog = true;
  }
  k.push_back({"orders",
               {ref("customer_id", "customers", true), happened("ordered_at", true), amount("amount", true),
                amount("cost"), text("channel"), text("location"), text("status"), ref("staff_id", "staff")}});
  k.push_back({"order_lines",
               {ref("order_id", "orders", true), ref("product_id", "products"), amount("quantity", true),
                amount("unit_price", true), amount("unit_cost")}});
  k.push_back({"payments",
               {ref("customer_id", "customers", true), ref("order_id", "orders"), happened("paid_at", true),
                amount("amount", true), text("method")}});
  // An interaction with a customer's contact is with someone who works
  // there; one without a customer may be with any contact.
  Field interaction_contact = ref("contact_id", "contacts");
  interaction_contact.linked_to = "customer_id";
  k.push_back({"interactions",
               {ref("customer_id", "customers"), interaction_contact, ref("staff_id", "staff"),
                choice("channel", {"call", "visit", "email", "message", "meeting", "note"}, "", true),
                choice("direction", {"inbound", "outbound"}), happened("occurred_at", true), text("summary"),
                text("outcome"), text("next_step")}});
  k.push_back({"deals",
               {ref("customer_id", "customers", true), text("name"), text("stage", true), amount("amount"),
                by_store(real("probability", false, 0.0, 1.0)), time("expected_close"), ref("owner_id", "staff"),
                by_store(happened("closed_at"))}});
  k.push_back({"deal_stages",
               {ref("deal_id", "deals", true), text("stage", true), by_store(happened("changed_at", true))},
               /*cascade_on_delete=*/true});
  k.push_back({"tickets",
               {ref("customer_id", "customers"), ref("contact_id", "contacts"), text("category"),
                choice("severity", {"low", "medium", "high", "critical"}), happened("opened_at", true),
                by_store(happened("first_response_at")), by_store(happened("resolved_at")), text("resolution"),
                real("satisfaction", false, 1.0, 5.0), by_store(integer("reopened", false, 0, 1e9))}});
  k.push_back({"surveys",
               {ref("customer_id", "customers"), ref("contact_id", "contacts"), happened("responded_at", true),
                real("csat", false, 1.0, 5.0), integer("nps", false, 0, 10), text("comment")}});
  k.push_back({"campaigns",
               {text("name", true), text("channel"), time("started_at"), time("ended_at"), amount("budget")}});
  k.push_back({"campaign_members",
               {ref("campaign_id", "campaigns", true), ref("customer_id", "customers"),
                ref("contact_id", "contacts"), boolean("responded"), happened("responded_at"), text("response")},
               /*cascade_on_delete=*/true});
  k.push_back({"tasks",
               {text("subject", true), time("due_at"), ref("assignee_id", "staff"), ref("customer_id", "customers"),
                ref("contact_id", "contacts"), boolean("done")}});
  {
    Field strength = amount("strength");
    strength.default_value = "1";
    // A record linked to itself means nothing, and graph measures would
    // count it as its own neighbour.
    Field dst = any_ref("dst");
    dst.differs_from = "src";
    k.push_back({"links",
                 {any_ref("src"), dst, text("type", true), text("role"), strength, time("since"),
                  time("until"), boolean("directed")}});
  }
  // Schema version 4: every kind gains its external key.
  for (auto& kind : k) {
    for (const char* name : {kExternalSource, kExternalId}) {
      Field f = text(name);
      f.since_version = 4;
      kind.fields.push_back(std::move(f));
    }
  }
  add_sales_v6(k);
  add_access_v7(k);
  add_service_v9(k);
  add_sales_ops(k);
  add_stock_v11(k);
  add_automation(k);
  add_access_v13(k);  // versions in order: a migrated file's columns come in the order a new file has them
  add_partner_tiers(k);
  add_sales_credits(k);
  add_follow_up(k);
  add_schedules(k);
  return k;
}

}  // namespace

const Field* Kind::field(const std::string& n) const {
  for (const auto& f : fields)
    if (f.name == n) return &f;
  return nullptr;
}

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> all = make_kinds();
  return all;
}

const Kind& kind(const std::string& name) {
  for (const auto& k : kinds())
    if (k.name == name) return k;
  std::string known;
  for (const auto& k : kinds()) known += (known.empty() ? "" : ", ") + k.name;
  throw NotFound("no record kind '" + name + "' (known kinds: " + known + ")");
}

std::string to_string(FieldType t) {
  switch (t) {
    case FieldType::Text: return "text";
    case FieldType::Integer: return "integer";
    case FieldType::Real: return "real";
    case FieldType::Time: return "time";
    case FieldType::Bool: return "bool";
    case FieldType::Ref: return "ref";
    case FieldType::AnyRef: return "anyref";
  }
  return "?";
}

std::optional<FieldType> parse_field_type(const std::string& name) {
  for (FieldType t : {FieldType::Text, FieldType::Integer, FieldType::Real, FieldType::Time, FieldType::Bool,
                      FieldType::Ref, FieldType::AnyRef})
    if (to_string(t) == name) return t;
  return std::nullopt;
}

}  // namespace crmcore::records
