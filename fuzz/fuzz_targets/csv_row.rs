//! Portal CSV parsing: a real header (the v6vf-nfxy layout or a legacy one, chosen by the first
//! byte) followed by arbitrary rows must parse row by row without a panic.
#![no_main]

use cwfy::source::socrata::{CsvHeader, parse_csv_row};
use cwfy::source::{Normalizer, Parsed};
use libfuzzer_sys::fuzz_target;

const PORTAL: &str = "sr_number,sr_type,sr_short_code,created_department,owner_department,status,origin,created_date,last_modified_date,closed_date,street_address,city,state,zip_code,street_number,street_direction,street_name,street_type,duplicate,legacy_record,community_area,ward,electricity_grid,police_sector,police_district,police_beat,precinct,created_hour,created_day_of_week,created_month,x_coordinate,y_coordinate,latitude,longitude,location,parent_sr_number,electrical_district\n";
const LEGACY: &str = "Creation Date,Status,Completion Date,Service Request Number,Type of Service Request,Number of Premises Baited,Number of Premises with Garbage,Number of Premises with Rats,Current Activity,Most Recent Action,Street Address,ZIP Code,X Coordinate,Y Coordinate,Ward,Police District,Community Area,Latitude,Longitude,Location\n";

fuzz_target!(|data: &[u8]| {
    let Some((first, rows)) = data.split_first() else { return };
    let header = if first % 2 == 0 { PORTAL } else { LEGACY };
    let mut input = header.as_bytes().to_vec();
    input.extend_from_slice(rows);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(&input[..]);
    let header = CsvHeader::new(reader.headers().unwrap(), None).unwrap();
    let n = Normalizer::new(jiff::tz::TimeZone::get("America/Chicago").unwrap(), 50);
    for row in reader.records() {
        let Ok(row) = row else { continue };
        if let Parsed::Request(r, _) = parse_csv_row(&header, &row, &n) {
            assert!(!r.id.is_empty());
            assert!(r.lat.is_none_or(f64::is_finite));
        }
    }
});
