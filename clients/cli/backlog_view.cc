#include "clients/cli/backlog_view.h"

#include <algorithm>
#include <array>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "clients/cli/cli.h"
#include "clients/cli/format.h"

namespace vigil::cli {
namespace {

constexpr const char* kBands[] = {"", "0-7", "8-30", "31-90", "91-180", "181-365", ">365"};
// Riskiest first, "not assessed" last (as RISK_THEN_AGE orders).
constexpr int kRiskOrder[] = {v1::RISK_LEVEL_VERY_HIGH, v1::RISK_LEVEL_HIGH, v1::RISK_LEVEL_MEDIUM,
                              v1::RISK_LEVEL_LOW, v1::RISK_LEVEL_UNSPECIFIED};

std::string Kind(int kind) {
  return EnumText(v1::ObligationKind_descriptor(), kind, "OBLIGATION_KIND_");
}

// counts[kind][risk][band]
// [kind][risk][age band]: every kind this build knows (ObligationKind numbers from 1).
constexpr int kKindSlots = v1::ObligationKind_ARRAYSIZE;
using Grid = std::array<std::array<std::array<int64_t, 7>, 5>, kKindSlots>;

Grid GridOf(const v1::BacklogSummary& summary) {
  Grid grid{};
  for (const v1::BacklogRow& row : summary.rows()) {
    if (row.kind() < kKindSlots && row.risk_level() < 5 && row.age_band() < 7) {
      grid[row.kind()][row.risk_level()][row.age_band()] += row.count();
    }
  }
  return grid;
}

std::string Escape(absl::string_view text) {
  return absl::StrReplaceAll(text,
                             {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// "Alice Smith (R12)", or the id alone when the name is unknown.
std::string SubjectText(absl::string_view name, absl::string_view id) {
  return name.empty() ? std::string(id) : absl::StrCat(name, " (", id, ")");
}

std::string Scope(const v1::BacklogSummary& s) {
  std::string scope = absl::StrCat("force ", s.force());
  if (!s.team().empty()) absl::StrAppend(&scope, ", team ", s.team());
  if (!s.officer().empty()) absl::StrAppend(&scope, ", officer ", s.officer());
  return scope;
}

}  // namespace

std::string SummaryTable(const v1::BacklogSummary& summary) {
  std::ostringstream out;
  out << "BACKLOG  " << Scope(summary) << "   as of " << FormatTimestamp(summary.as_of())
      << (summary.view() == v1::AS_OF_VIEW_HISTORY ? " (as it stood then)" : "") << "   "
      << summary.total() << " overdue of " << summary.total_open() << " open\n\n";
  const Grid grid = GridOf(summary);
  Table table({"KIND", "RISK", "0-7", "8-30", "31-90", "91-180", "181-365", ">365", "TOTAL"});
  std::array<int64_t, 7> band_totals{};
  for (int k = 1; k < kKindSlots; ++k) {
    bool first = true;
    for (int r : kRiskOrder) {
      int64_t total = 0;
      for (int b = 1; b < 7; ++b) total += grid[k][r][b];
      if (total == 0) continue;
      std::vector<std::string> row = {first ? Kind(k) : "", RiskText(r)};
      for (int b = 1; b < 7; ++b) {
        row.push_back(absl::StrCat(grid[k][r][b]));
        band_totals[b] += grid[k][r][b];
      }
      row.push_back(absl::StrCat(total));
      table.AddRow(std::move(row));
      first = false;
    }
  }
  std::vector<std::string> totals = {"TOTAL", ""};
  for (int b = 1; b < 7; ++b) totals.push_back(absl::StrCat(band_totals[b]));
  totals.push_back(absl::StrCat(summary.total()));
  table.AddRow(std::move(totals));
  table.Print(out);
  if (summary.has_oldest()) {
    const v1::Obligation& o = summary.oldest();
    out << "\noldest: " << o.id() << " (" << Kind(o.kind()) << ", " << RiskText(o.risk_level())
        << "), due by " << FormatDueDate(o.due_time()) << ", "
        << DaysSince(o.due_time(), absl::Now()) << " days overdue, " << o.owner_officer() << " / "
        << o.team() << "\n        " << o.reason() << "\n";
  }
  int64_t seven = 0, twenty_eight = 0;
  for (const v1::DueSoonRow& row : summary.due_soon()) {
    seven += row.within_7_days();
    twenty_eight += row.within_28_days();
  }
  out << "due soon: " << seven << " within 7 days, " << twenty_eight << " within 28 days\n";
  return out.str();
}

std::string SummaryCsv(const v1::BacklogSummary& summary) {
  std::ostringstream out;
  out << "kind,risk_level,age_band,count\n";
  for (const v1::BacklogRow& row : summary.rows()) {
    out << Kind(row.kind()) << "," << RiskText(row.risk_level()) << ","
        << kBands[row.age_band() % 7] << "," << row.count() << "\n";
  }
  return out.str();
}

std::string ItemsTable(const v1::ListBacklogItemsResponse& items, Output style) {
  std::ostringstream out;
  Table table(
      {"OBLIGATION", "SUBJECT", "KIND", "RISK", "DUE BY", "OVERDUE", "OWNER", "TEAM", "REASON"});
  for (const v1::BacklogItem& item : items.items()) {
    const v1::Obligation& o = item.obligation();
    table.AddRow({o.id(), SubjectText(item.subject_display_name(), o.subject_id()), Kind(o.kind()),
                  RiskText(o.risk_level()), FormatDueDate(o.due_time()),
                  absl::StrCat(item.days_overdue(), " days"), o.owner_officer(), o.team(),
                  o.reason()});
  }
  table.Print(out, style);
  return out.str();
}

std::string WorkTable(const v1::ListMyWorkResponse& work, Output style) {
  std::ostringstream out;
  // CSV is the rows alone, for a spreadsheet.
  const bool prose = style != Output::kCsv;
  if (prose) {
    out << "WORK  " << (work.officer().empty() ? "team " + work.team() : work.officer())
        << "   as of " << FormatTimestamp(work.as_of()) << "   due by "
        << FormatDueDate(work.horizon_end()) << "\n\n";
  }
  if (work.items().empty() && prose) {
    out << "nothing overdue or due by then\n";
    return out.str();
  }
  Table table({"WHEN", "RISK", "SUBJECT", "KIND", "DUE BY", "OWNER", "OBLIGATION", "WHY"});
  for (const v1::WorkItem& item : work.items()) {
    const v1::Obligation& o = item.obligation();
    std::string when;
    switch (item.bucket()) {
      case v1::WORK_BUCKET_OVERDUE:
        when = absl::StrCat("OVERDUE ", item.days_overdue(), "d");
        break;
      case v1::WORK_BUCKET_DUE_TODAY:
        when = "today";
        break;
      default:
        when = absl::StrCat("in ", item.days_until_due(), "d");
    }
    table.AddRow({when, RiskText(o.risk_level()),
                  SubjectText(item.subject_display_name(), o.subject_id()), Kind(o.kind()),
                  FormatDueDate(o.due_time()), o.owner_officer(), o.id(), o.reason()});
  }
  table.Print(out, style);
  return out.str();
}

std::string WorkloadTable(const v1::GetWorkloadResponse& workload, Output style) {
  std::ostringstream out;
  Table table({"TEAM", "OFFICER", "OPEN", "OVERDUE", "V.HIGH", "HIGH", "MEDIUM", "LOW", "N/A",
               "LOAD", "CAPACITY", "TEAM SHARE"});
  for (const v1::OfficerWorkload& w : workload.officers()) {
    auto risk = [&](int r) {
      return r < w.open_by_risk_size() ? absl::StrCat(w.open_by_risk(r)) : "0";
    };
    // The unallocated queue is work waiting for an officer: it has no capacity or share.
    const bool queue = w.unallocated_queue();
    table.AddRow({w.team(), queue ? "(unallocated queue)" : w.officer(), absl::StrCat(w.open()),
                  absl::StrCat(w.overdue()), risk(4), risk(3), risk(2), risk(1), risk(0),
                  absl::StrFormat("%.1f", w.weighted_load()),
                  queue ? "-" : absl::StrFormat("%.0f%%", w.capacity_used_percent()),
                  queue ? "-" : absl::StrFormat("%.0f%%", w.team_share_percent())});
  }
  table.Print(out, style);
  if (style != Output::kCsv) out << "weights: policy " << workload.policy_version() << "\n";
  return out.str();
}

std::string TrendTable(const v1::GetBacklogTrendResponse& trend, Output style) {
  std::ostringstream out;
  const bool prose = style != Output::kCsv;
  if (trend.points().empty() && prose) {
    out << "no snapshots in that range yet (they are taken at local midnight, or with 'vigil "
           "backlog snapshot')\n";
    return out.str();
  }
  Table table({"DATE", "OVERDUE", "OPEN"});
  for (const v1::TrendPoint& p : trend.points()) {
    table.AddRow({p.date(), absl::StrCat(p.total_overdue()), absl::StrCat(p.total_open())});
  }
  table.Print(out, style);
  if (!prose) return out.str();
  out << "change: " << absl::StrFormat("%+d", trend.change_7_days()) << " over 7 days, "
      << absl::StrFormat("%+d", trend.change_28_days()) << " over 28 days\n";
  for (const v1::KindForecast& f : trend.forecasts()) {
    out << "  " << Kind(f.kind()) << ": " << f.overdue_now() << " overdue, ";
    if (f.days_to_clear() > 0) {
      out << absl::StrFormat("clearing %.1f a day: zero in %.0f days\n", f.cleared_per_day(),
                             f.days_to_clear());
    } else if (f.growing()) {
      out << absl::StrFormat("GROWING by %.1f a day\n", -f.cleared_per_day());
    } else {
      out << "not moving\n";
    }
  }
  return out.str();
}

std::string ReportHtml(const ReportData& data) {
  const v1::BacklogSummary& s = data.summary;
  const Grid grid = GridOf(s);
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       << "<title>Backlog report: " << Escape(Scope(s)) << "</title><style>"
       << "body{font-family:sans-serif;margin:24px;color:#222}h1{font-size:22px}h2{font-size:17px;"
       << "margin-top:28px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #bbb;"
       << "padding:3px "
          "8px;text-align:right;font-size:13px}th{background:#eee}td.l,th.l{text-align:left}"
       << ".total{font-weight:bold}.kpi{display:inline-block;margin-right:32px;font-size:15px}"
       << ".kpi b{font-size:26px;display:block}@media print{body{margin:8px}}"
       << "</style></head><body>\n";
  html << "<h1>Overdue work: " << Escape(Scope(s)) << "</h1>\n<p>As of "
       << FormatTimestamp(s.as_of())
       << ". Overdue means past its due date under the policy in force "
       << "when it was set.</p>\n";
  html << "<div class=\"kpi\"><b data-total-overdue=\"" << s.total() << "\">" << s.total()
       << "</b>overdue</div><div class=\"kpi\"><b data-total-open=\"" << s.total_open() << "\">"
       << s.total_open() << "</b>open obligations</div>\n";

  // Summary table: kind x risk rows, age-band columns.
  html << "<h2>Overdue by kind, risk and age (days)</h2>\n<table id=\"summary\"><tr><th "
          "class=\"l\">Kind</th>"
       << "<th class=\"l\">Risk</th>";
  for (int b = 1; b < 7; ++b) html << "<th>" << kBands[b] << "</th>";
  html << "<th>Total</th></tr>\n";
  std::array<int64_t, 7> band_totals{};
  std::map<std::pair<int, int>, int64_t> by_kind_risk;
  for (int k = 1; k < kKindSlots; ++k) {
    for (int r : kRiskOrder) {
      int64_t total = 0;
      for (int b = 1; b < 7; ++b) total += grid[k][r][b];
      if (total == 0) continue;
      by_kind_risk[{k, r}] = total;
      html << "<tr><td class=\"l\">" << Kind(k) << "</td><td class=\"l\">" << RiskText(r)
           << "</td>";
      for (int b = 1; b < 7; ++b) {
        html << "<td data-kind=\"" << Kind(k) << "\" data-risk=\"" << RiskText(r)
             << "\" data-band=\"" << b << "\">" << grid[k][r][b] << "</td>";
        band_totals[b] += grid[k][r][b];
      }
      html << "<td class=\"total\">" << total << "</td></tr>\n";
    }
  }
  html << "<tr class=\"total\"><td class=\"l\">Total</td><td></td>";
  for (int b = 1; b < 7; ++b)
    html << "<td data-band-total=\"" << b << "\">" << band_totals[b] << "</td>";
  html << "<td>" << s.total() << "</td></tr></table>\n";

  // Bar chart: overdue by kind, stacked by risk.
  static const char* kRiskColour[] = {"#999999", "#4caf50", "#ffb300", "#f4511e", "#b71c1c"};
  std::map<int, int64_t> kind_totals;
  for (const auto& [key, n] : by_kind_risk) kind_totals[key.first] += n;
  int64_t max_kind = 1;
  for (const auto& [k, n] : kind_totals) max_kind = std::max(max_kind, n);
  const int bar_height = 26;
  const int chart_width = 520;
  html << "<h2>Overdue by kind and risk</h2>\n<svg id=\"by-kind\" width=\"760\" height=\""
       << 30 + bar_height * static_cast<int>(kind_totals.size()) << "\" role=\"img\">";
  int y = 10;
  for (const auto& [k, n] : kind_totals) {
    html << "<text x=\"0\" y=\"" << y + 17 << "\" font-size=\"13\">" << Kind(k) << "</text>";
    double x = 160;
    for (int r : kRiskOrder) {
      auto it = by_kind_risk.find({k, r});
      if (it == by_kind_risk.end()) continue;
      const double w = static_cast<double>(chart_width) * static_cast<double>(it->second) /
                       static_cast<double>(max_kind);
      html << absl::StrFormat(
          "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
          "<title>%s %s: %d</title></rect>",
          x, y, w, bar_height - 6, kRiskColour[r], Kind(k), RiskText(r), it->second);
      x += w;
    }
    html << absl::StrFormat(
        "<text x=\"%.1f\" y=\"%d\" font-size=\"13\" data-kind-total=\"%s\">%d</text>", x + 6,
        y + 17, Kind(k), n);
    y += bar_height;
  }
  html << "</svg>\n<p>";
  for (int r : kRiskOrder) {
    html << "<span style=\"background:" << kRiskColour[r] << ";padding:0 8px;margin:0 4px\"></span>"
         << RiskText(r);
  }
  html << "</p>\n";

  // Age distribution.
  int64_t max_band = 1;
  for (int b = 1; b < 7; ++b) max_band = std::max(max_band, band_totals[b]);
  html << "<h2>Age of the overdue work (days overdue)</h2>\n<svg id=\"ages\" width=\"520\" "
          "height=\"220\" role=\"img\">";
  for (int b = 1; b < 7; ++b) {
    const double h = 160.0 * static_cast<double>(band_totals[b]) / static_cast<double>(max_band);
    const int x = 20 + (b - 1) * 80;
    html << absl::StrFormat(
        "<rect x=\"%d\" y=\"%.1f\" width=\"56\" height=\"%.1f\" fill=\"#3949ab\"/>"
        "<text x=\"%d\" y=\"%.1f\" font-size=\"12\">%d</text>"
        "<text x=\"%d\" y=\"205\" font-size=\"12\">%s</text>",
        x, 180 - h, h, x + 8, 175 - h, band_totals[b], x + 4, kBands[b]);
  }
  html << "</svg>\n";

  // The oldest items.
  html << "<h2>The oldest " << data.oldest.items_size()
       << " overdue items</h2>\n<table id=\"oldest\"><tr>"
       << "<th class=\"l\">Obligation</th><th class=\"l\">Kind</th><th "
          "class=\"l\">Risk</th><th>Due by</th>"
       << "<th>Days overdue</th><th class=\"l\">Owner</th><th class=\"l\">Team</th><th "
          "class=\"l\">Why due</th></tr>\n";
  for (const v1::BacklogItem& item : data.oldest.items()) {
    const v1::Obligation& o = item.obligation();
    html << "<tr><td class=\"l\">" << Escape(o.id()) << "</td><td class=\"l\">" << Kind(o.kind())
         << "</td><td class=\"l\">" << RiskText(o.risk_level()) << "</td><td>"
         << FormatDueDate(o.due_time()) << "</td><td data-days-overdue=\"" << item.days_overdue()
         << "\">" << item.days_overdue() << "</td><td class=\"l\">" << Escape(o.owner_officer())
         << "</td><td class=\"l\">" << Escape(o.team()) << "</td><td class=\"l\">"
         << Escape(o.reason()) << "</td></tr>\n";
  }
  html << "</table>\n";

  // Trend line.
  html << "<h2>Trend</h2>\n";
  if (data.trend.points().empty()) {
    html << "<p>No daily snapshots yet.</p>\n";
  } else {
    int64_t max_point = 1;
    for (const v1::TrendPoint& p : data.trend.points())
      max_point = std::max(max_point, p.total_overdue());
    const int n = data.trend.points_size();
    html << "<svg id=\"trend\" width=\"620\" height=\"200\" role=\"img\"><polyline fill=\"none\" "
            "stroke=\"#b71c1c\" stroke-width=\"2\" points=\"";
    for (int i = 0; i < n; ++i) {
      const double x = 40 + (n == 1 ? 0 : 540.0 * i / (n - 1));
      const double yv = 170 - 150.0 * static_cast<double>(data.trend.points(i).total_overdue()) /
                                  static_cast<double>(max_point);
      html << absl::StrFormat("%.1f,%.1f ", x, yv);
    }
    html << "\"/><text x=\"40\" y=\"192\" font-size=\"12\">" << data.trend.points(0).date()
         << "</text><text x=\"520\" y=\"192\" font-size=\"12\">" << data.trend.points(n - 1).date()
         << "</text><text x=\"0\" y=\"20\" font-size=\"12\">" << max_point << "</text></svg>\n";
    html << "<p>Change in overdue: " << absl::StrFormat("%+d", data.trend.change_7_days())
         << " over 7 days, " << absl::StrFormat("%+d", data.trend.change_28_days())
         << " over 28 days.</p>\n";
  }

  // Workload.
  html << "<h2>Workload by officer</h2>\n<table id=\"workload\"><tr><th class=\"l\">Team</th>"
       << "<th class=\"l\">Officer</th><th>Open</th><th>Overdue</th><th>Weighted "
          "load</th><th>Capacity</th></tr>\n";
  for (const v1::OfficerWorkload& w : data.workload.officers()) {
    const bool queue = w.unallocated_queue();
    html << "<tr><td class=\"l\">" << Escape(w.team()) << "</td><td class=\"l\">"
         << (queue ? "(unallocated queue)" : Escape(w.officer())) << "</td><td>" << w.open()
         << "</td><td>" << w.overdue() << "</td><td>" << absl::StrFormat("%.1f", w.weighted_load())
         << "</td><td>" << (queue ? "-" : absl::StrFormat("%.0f%%", w.capacity_used_percent()))
         << "</td></tr>\n";
  }
  html << "</table>\n<p style=\"font-size:11px;color:#666\">Produced by vigil. OFFICIAL-SENSITIVE: "
       << "contains references to individuals; handle under the force's data protection "
          "policy.</p>\n"
       << "</body></html>\n";
  return html.str();
}

}  // namespace vigil::cli
