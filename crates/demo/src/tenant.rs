//! The demo organisation: sites with their internet providers, users with roles, home sites,
//! working hours and devices. Everything the baseline activity and the stories draw on.

use crate::rng::Rng;

/// An internet network: an ASN and the /16 prefixes its hosts are drawn from.
#[derive(Debug, Clone, Copy)]
pub struct Network {
    pub asn: i64,
    /// Who holds the addresses; documentation for readers of the stories.
    #[expect(dead_code, reason = "documents who owns the addresses")]
    pub org: &'static str,
    pub prefixes: &'static [&'static str],
}

impl Network {
    /// A host address in this network, stable for a given `key`.
    pub fn host(&self, key: u64) -> String {
        let mut r = Rng::new(key ^ self.asn as u64);
        let prefix = r.pick(self.prefixes);
        if prefix.matches('.').count() == 2 {
            format!("{prefix}.{}", r.range(2, 253))
        } else {
            format!("{prefix}.{}.{}", r.range(1, 254), r.range(2, 253))
        }
    }
}

/// A place, with where it is and which networks its people use.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub city: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    /// Offset of local time from UTC, hours.
    pub utc_offset: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct Site {
    pub place: Place,
    pub home: Network,
    pub mobile: Option<Network>,
    pub office: Network,
    /// Share of the tenant's users based here, in percent.
    pub share: u64,
}

const fn place(
    city: &'static str,
    state: &'static str,
    country: &'static str,
    latitude: f64,
    longitude: f64,
    utc_offset: i64,
) -> Place {
    Place { city, state, country, latitude, longitude, utc_offset }
}

pub const SITES: [Site; 6] = [
    Site {
        place: place("Seattle", "Washington", "US", 47.6062, -122.3321, -8),
        home: Network { asn: 7922, org: "Comcast Cable Communications", prefixes: &["73.53", "73.97", "24.16"] },
        mobile: Some(Network { asn: 21928, org: "T-Mobile USA", prefixes: &["172.56", "172.58"] }),
        office: Network { asn: 6461, org: "Zayo Bandwidth", prefixes: &["64.125.32"] },
        share: 35,
    },
    Site {
        place: place("Madrid", "Madrid", "ES", 40.4168, -3.7038, 1),
        home: Network { asn: 3352, org: "Telefonica de Espana", prefixes: &["83.38", "88.27"] },
        mobile: None,
        office: Network { asn: 3352, org: "Telefonica de Espana", prefixes: &["80.58.61"] },
        share: 15,
    },
    Site {
        place: place("London", "England", "GB", 51.5072, -0.1276, 0),
        home: Network { asn: 2856, org: "British Telecommunications", prefixes: &["86.128", "81.152"] },
        mobile: Some(Network { asn: 12576, org: "EE Limited", prefixes: &["92.40"] }),
        office: Network { asn: 2856, org: "British Telecommunications", prefixes: &["194.72.9"] },
        share: 15,
    },
    Site {
        place: place("San Pedro Sula", "Cortes", "HN", 15.5042, -88.0250, -6),
        home: Network { asn: 27884, org: "Cable Color", prefixes: &["186.2.140", "186.2.141", "186.2.142"] },
        mobile: None,
        office: Network { asn: 27884, org: "Cable Color", prefixes: &["186.2.150"] },
        share: 15,
    },
    Site {
        place: place("Bengaluru", "Karnataka", "IN", 12.9716, 77.5946, 5),
        home: Network { asn: 24560, org: "Bharti Airtel", prefixes: &["122.171", "122.172"] },
        mobile: None,
        office: Network { asn: 24560, org: "Bharti Airtel", prefixes: &["182.74.20"] },
        share: 10,
    },
    Site {
        place: place("Toronto", "Ontario", "CA", 43.6532, -79.3832, -5),
        home: Network { asn: 812, org: "Rogers Communications", prefixes: &["99.224", "99.225"] },
        mobile: None,
        office: Network { asn: 812, org: "Rogers Communications", prefixes: &["72.139.110"] },
        share: 10,
    },
];

/// The corporate secure web gateway's egress nodes: many users of every site appear at these
/// addresses, in cities they are not in. The classic impossible-travel false positive.
pub const PROXY: Network = Network { asn: 22616, org: "Zscaler, Inc.", prefixes: &["165.225"] };
pub const PROXY_NODES: [(Place, &str); 3] = [
    (place("Frankfurt am Main", "Hesse", "DE", 50.1109, 8.6821, 1), "165.225.72"),
    (place("Chicago", "Illinois", "US", 41.8781, -87.6298, -6), "165.225.60"),
    (place("London", "England", "GB", 51.5072, -0.1276, 0), "165.225.80"),
];

/// Where the tenant's automation runs: a cloud provider.
pub const CLOUD: Network = Network { asn: 8075, org: "Microsoft Corporation", prefixes: &["20.42", "20.112"] };

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Staff,
    Finance,
    CustomerExperience,
    Engineer,
    Admin,
    Executive,
    Service,
}

impl Role {
    pub fn title(self) -> &'static str {
        match self {
            Role::Staff => "Account Manager",
            Role::Finance => "Accounts Payable Specialist",
            Role::CustomerExperience => "Customer Experience Agent",
            Role::Engineer => "Software Engineer",
            Role::Admin => "IT Administrator",
            Role::Executive => "Director",
            Role::Service => "Service account",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub os: &'static str,
    pub browser: &'static str,
    pub user_agent: &'static str,
    pub trust_type: &'static str,
    pub managed: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub index: usize,
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub role: Role,
    pub site: usize,
    /// Hour of the local working day's start.
    pub start_hour: i64,
    pub laptop: Device,
    pub phone: Device,
    /// Works from home on these weekdays (0 = Monday).
    pub home_days: [bool; 5],
    /// Reaches the internet through the corporate proxy from home.
    pub proxied: bool,
    /// A fixed home address and a fixed office address.
    pub home_ip: String,
    pub office_ip: String,
}

impl User {
    pub fn site(&self) -> &'static Site {
        &SITES[self.site]
    }
}

pub struct Tenant {
    pub domain: &'static str,
    pub name: &'static str,
    pub users: Vec<User>,
}

const FIRST: [&str; 40] = [
    "Ana", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kira", "Luis", "Maya", "Noah",
    "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Ximena", "Yusuf", "Zoe", "Aditi",
    "Bruno", "Chloe", "Diego", "Emma", "Felix", "Gita", "Hana", "Ivan", "Julia", "Karim", "Lena", "Marco", "Nadia",
];
const LAST: [&str; 40] = [
    "Alvarez",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ibrahim",
    "Jensen",
    "Kumar",
    "Lopez",
    "Moreau",
    "Nguyen",
    "Okafor",
    "Patel",
    "Quintero",
    "Rossi",
    "Silva",
    "Tanaka",
    "Usman",
    "Vargas",
    "Weber",
    "Xu",
    "Yamamoto",
    "Zelaya",
    "Andersen",
    "Brooks",
    "Castillo",
    "Dubois",
    "Ekström",
    "Flores",
    "Gomez",
    "Hughes",
    "Iyer",
    "Jovanovic",
    "Kowalski",
    "Lindqvist",
    "Mejia",
    "Novak",
];

const WINDOWS_EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36 Edg/128.0.2739.67";
const WINDOWS_CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36";
const MAC_SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15";
const IPHONE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";
const ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.6613.127 Mobile Safari/537.36";

impl Tenant {
    pub fn generate(rng: &Rng, users: usize) -> Tenant {
        let domain = "northwind.example";
        let total_share: u64 = SITES.iter().map(|s| s.share).sum();
        // Sites by share, deterministically by position so every size has every site; roles
        // and proxy use cycle within a site, so that every site has every kind of user.
        let mut per_site = [0usize; SITES.len()];
        let users = (0..users)
            .map(|index| {
                let mut u = rng.fork(1000 + index as u64);
                let slot = (index as u64 * 37) % total_share;
                let mut acc = 0;
                let site = SITES
                    .iter()
                    .position(|s| {
                        acc += s.share;
                        slot < acc
                    })
                    .unwrap_or(0);
                let k = per_site[site];
                per_site[site] += 1;
                const CYCLE: [Role; 5] = [Role::Staff, Role::Finance, Role::Engineer, Role::Staff, Role::Engineer];
                let role = if index == 0 {
                    Role::Service
                } else if index % 40 == 1 {
                    Role::Admin
                } else if index % 23 == 2 {
                    Role::Executive
                } else if SITES[site].place.country == "HN" {
                    Role::CustomerExperience
                } else {
                    CYCLE[k % CYCLE.len()]
                };
                let first = FIRST[index % FIRST.len()];
                let last = LAST[(index / FIRST.len() + index * 7) % LAST.len()];
                let (upn, display_name) = if role == Role::Service {
                    (format!("svc-reporting@{domain}"), "Reporting Service".to_string())
                } else {
                    let local = format!(
                        "{}.{}{}",
                        first,
                        last,
                        if index >= FIRST.len() { (index / FIRST.len()).to_string() } else { String::new() }
                    );
                    (format!("{}@{domain}", ascii(&local).to_lowercase()), format!("{first} {last}"))
                };
                let mac = u.chance(0.2);
                let laptop = Device {
                    id: u.guid(),
                    name: format!("{}-{:04}", if mac { "MBP" } else { "LT" }, index),
                    os: if mac { "MacOs" } else { "Windows10" },
                    browser: if mac {
                        "Safari 17.6"
                    } else if u.chance(0.6) {
                        "Edge 128.0.0"
                    } else {
                        "Chrome 128.0.0"
                    },
                    user_agent: if mac {
                        MAC_SAFARI
                    } else if u.chance(0.6) {
                        WINDOWS_EDGE
                    } else {
                        WINDOWS_CHROME
                    },
                    trust_type: if mac { "Azure AD registered" } else { "Azure AD joined" },
                    managed: true,
                };
                let iphone = u.chance(0.6);
                let phone = Device {
                    id: u.guid(),
                    name: if iphone { "iPhone".into() } else { "Galaxy S23".into() },
                    os: if iphone { "Ios" } else { "Android" },
                    browser: if iphone { "Mobile Safari" } else { "Chrome Mobile 128.0.6613" },
                    user_agent: if iphone { IPHONE } else { ANDROID },
                    trust_type: "Azure AD registered",
                    managed: false,
                };
                let s = &SITES[site];
                let mut home_days = [false; 5];
                for d in home_days.iter_mut() {
                    *d = u.chance(0.4);
                }
                User {
                    index,
                    id: u.guid(),
                    upn,
                    display_name,
                    role,
                    site,
                    start_hour: u.range(7, 9),
                    laptop,
                    phone,
                    home_days,
                    proxied: k % 4 == 2,
                    home_ip: s.home.host(u.next()),
                    office_ip: s.office.host(7),
                }
            })
            .collect();
        Tenant { domain, name: "Northwind Traders (demo)", users }
    }
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ö' => 'o',
            'é' => 'e',
            c => c,
        })
        .collect()
}
