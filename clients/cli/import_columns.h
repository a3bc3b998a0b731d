// The CSV columns `vigil import offenders` reads, in the order `vigil demo generate` writes
// them: one list, so that the writer and the reader cannot drift apart.
#ifndef VIGIL_CLIENTS_CLI_IMPORT_COLUMNS_H_
#define VIGIL_CLIENTS_CLI_IMPORT_COLUMNS_H_

namespace vigil::cli {

inline constexpr const char* kOffenderColumns[] = {"id",
                                                   "visor_ref",
                                                   "display_name",
                                                   "registered_date",
                                                   "owner_officer",
                                                   "team",
                                                   "status",
                                                   "notification_period",
                                                   "under_18",
                                                   "mappa_category",
                                                   "mappa_level",
                                                   "last_notification_date",
                                                   "last_arms_date",
                                                   "last_arms_risk",
                                                   "last_rmp_review_date",
                                                   "last_visit_date",
                                                   "requirement_start_date"};

}  // namespace vigil::cli

#endif  // VIGIL_CLIENTS_CLI_IMPORT_COLUMNS_H_
