//! The intelligence functions in SQL, on the demo tenant's columns.

use crate::support::*;

fn story_user(id: &str) -> String {
    let m = &demo().manifest;
    m["stories"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()["user"].as_str().unwrap().to_string()
}

fn users_with(class: &str) -> Vec<String> {
    query(
        &demo().store,
        &format!(
            "SELECT DISTINCT user_principal_name AS u FROM signins WHERE ua_class(user_agent) = '{class}' ORDER BY 1"
        ),
    )
    .iter()
    .map(|r| r["u"].as_str().unwrap().to_string())
    .collect()
}

#[test]
fn user_agent_classes_single_out_the_scripts_and_the_spraying_tool() {
    let mut automation = vec![story_user("token-theft-bec"), story_user("benign-service-account")];
    automation.sort();
    assert_eq!(users_with("automation"), automation);
    assert_eq!(users_with("offensive_tool"), vec![story_user("credential-stuffing")]);
    assert!(users_with("browser").len() > 50);
}

#[test]
fn distances_between_successive_sign_ins_show_the_impossible_trip() {
    let u = story_user("impossible-travel");
    let rows = query(
        &demo().store,
        &format!(
            "SELECT max(geo_distance_km(prev_lat, prev_lon, latitude, longitude)) AS km FROM (
               SELECT latitude, longitude, lag(latitude) OVER (ORDER BY time) AS prev_lat, lag(longitude) OVER (ORDER BY time) AS prev_lon
               FROM signins WHERE user_principal_name = '{u}' AND coordinates_valid AND result_type = 0)"
        ),
    );
    let km = rows[0]["km"].as_f64().unwrap();
    assert!((4900.0..5100.0).contains(&km), "London to Lagos is about 5,000 km, got {km}");
}

#[test]
fn special_ranges_and_nulls() {
    let rows = query(
        &demo().store,
        "SELECT ip_special_range('100.64.1.1') AS cgnat, ip_special_range('[fe80::1]') AS junk, ip_special_range('fe80::1') AS ll,
                ip_special_range('89.187.164.82') AS public, geo_distance_km(NULL, 0, 0, 0) AS none",
    );
    assert_eq!(
        rows[0],
        serde_json::json!({"cgnat": "carrier_grade_nat", "junk": null, "ll": "link_local", "public": null, "none": null})
    );
}
