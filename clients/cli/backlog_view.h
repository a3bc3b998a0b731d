// Renderings of backlog data: text tables like an inspection report, CSV, and a
// self-contained HTML report (inline CSS and SVG charts, no external assets).
#ifndef VIGIL_CLIENTS_CLI_BACKLOG_VIEW_H_
#define VIGIL_CLIENTS_CLI_BACKLOG_VIEW_H_

#include <string>

#include "clients/cli/cli.h"
#include "vigil/v1/backlog.pb.h"

namespace vigil::cli {

// Kind x risk rows, age-band columns, totals; the oldest item; what falls due soon.
std::string SummaryTable(const v1::BacklogSummary& summary);
// kind,risk_level,age_band,count (one row per non-zero cell) with a header.
std::string SummaryCsv(const v1::BacklogSummary& summary);
std::string ItemsTable(const v1::ListBacklogItemsResponse& items, Output style = Output::kTable);
// Riskiest first: when (overdue N days, today, in N days), risk, subject's name, kind, due date,
// owner, the obligation, and why it is due then (the reason names its policy version).
std::string WorkTable(const v1::ListMyWorkResponse& work, Output style = Output::kTable);
std::string WorkloadTable(const v1::GetWorkloadResponse& workload, Output style = Output::kTable);
std::string TrendTable(const v1::GetBacklogTrendResponse& trend, Output style = Output::kTable);

struct ReportData {
  v1::BacklogSummary summary;
  v1::ListBacklogItemsResponse oldest;  // the oldest 20
  v1::GetBacklogTrendResponse trend;
  v1::GetWorkloadResponse workload;
};

// A printable page: the summary tables, a bar chart of overdue by kind and risk, the age
// distribution, the oldest 20 items and the trend line. Every number on it is from `data`;
// elements carry data-* attributes so tests can compare them with the API.
std::string ReportHtml(const ReportData& data);

}  // namespace vigil::cli

#endif  // VIGIL_CLIENTS_CLI_BACKLOG_VIEW_H_
