//! The storage contract. Each case is written once, as `async fn case(backend)`, and the `contract!` list
//! runs it against every adapter: `contract::sqlite::<case>` and `contract::dynamodb::<case>`.

mod access;
mod catalog;
mod incidents;
mod ledger;
mod poll;
mod window;

macro_rules! contract {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$module::$case(crate::support::sqlite().await).await;
                }
            )*
        }

        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$module::$case(crate::support::dynamodb().await).await;
                }
            )*
        }
    };
}

contract!(
    incidents::twenty_concurrent_opens_get_twenty_distinct_ticket_numbers,
    incidents::ticket_numbers_are_never_reused_after_a_failed_create,
    incidents::an_opened_incident_reads_back_as_committed,
    incidents::of_two_concurrent_updates_from_one_version_exactly_one_wins,
    incidents::an_update_from_a_stale_version_is_refused_naming_the_current_version,
    incidents::an_update_without_a_version_is_merged_after_a_concurrent_change,
    incidents::the_same_idempotency_key_twice_opens_one_incident_with_the_same_answer,
    incidents::the_same_idempotency_key_sent_concurrently_opens_one_incident,
    incidents::an_idempotency_key_reused_for_another_request_is_refused,
    incidents::an_expired_idempotency_key_is_forgotten,
    incidents::an_idempotent_update_is_applied_once,
    incidents::updating_an_unknown_ticket_is_not_found,
    incidents::resolving_a_resolved_incident_is_an_invalid_transition,
    incidents::find_by_external_id_returns_the_incident_opened_from_that_row,
    incidents::a_second_incident_from_the_same_row_is_refused_and_writes_nothing,
    incidents::the_timeline_lists_every_change_oldest_first_with_who_and_what,
    incidents::one_event_reads_back_with_the_incident_as_that_event_left_it,
    incidents::an_event_that_is_not_there_is_none,
    incidents::a_linked_ticket_is_an_event_of_its_own_kind,
    incidents::a_failed_save_leaves_the_incident_its_timeline_and_the_key_untouched,
    incidents::resolved_incidents_leave_the_open_list_and_reopened_ones_return,
    window::a_window_holds_an_incident_inside_it,
    window::a_window_holds_an_incident_spanning_it,
    window::a_window_holds_an_incident_open_since_months_before,
    window::a_window_leaves_out_an_incident_resolved_before_it,
    window::a_window_leaves_out_an_incident_starting_after_it,
    window::a_window_is_half_open_at_both_boundaries,
    window::a_window_starting_mid_day_holds_what_was_still_open_at_that_moment,
    window::a_window_follows_an_incident_whose_times_are_corrected,
    window::a_reopened_incident_is_in_every_window_since_it_started,
    window::filters_narrow_a_window_by_status_severity_and_system,
    window::pages_walk_a_window_once_even_when_incidents_arrive_between_pages,
    window::pages_walk_incidents_from_before_and_inside_a_window_across_a_month_boundary,
    catalog::systems_are_created_replaced_and_listed_by_id,
    catalog::subscribers_are_listed_per_system_and_replaced_by_contact,
    catalog::a_removed_subscriber_is_gone_and_removing_it_again_is_false,
    access::a_username_is_taken_once,
    access::an_updated_user_reads_back_as_replaced,
    access::updating_an_unknown_user_is_false_and_creates_nobody,
    access::api_keys_are_found_by_hash_and_revoked_once,
    ledger::an_events_deliveries_read_back_whole_by_channel_then_batch,
    ledger::an_incidents_deliveries_read_back_by_event_then_channel_then_batch,
    ledger::a_batch_recorded_twice_is_refused_and_the_first_record_stands,
    ledger::of_two_dispatchers_racing_for_one_batch_exactly_one_records_it,
    ledger::the_deliveries_of_another_incident_are_not_returned,
    ledger::deliveries_are_not_timeline_events,
    poll::a_source_state_reads_back_as_replaced_and_sources_list_by_name,
    poll::a_row_is_handled_once_and_only_bad_rows_are_listed_by_row_number,
    poll::a_probe_keeps_only_its_latest_checks_newest_first,
);
