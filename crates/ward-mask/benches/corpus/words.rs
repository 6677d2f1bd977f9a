//! Word lists the generators draw names, places, products and request details from.

pub const FIRST: &[&str] = &[
    "Alice", "Bruno", "Chloé", "Dmitri", "Emma", "Farah", "Gustavo", "Hana", "Ivan", "Julia",
    "Kenji", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomás", "Uma",
    "Victor", "Wen", "Ximena", "Yusuf", "Zoë",
];

pub const LAST: &[&str] = &[
    "Andersen", "Barros", "Chen", "Dubois", "Eriksson", "Fischer", "García", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Lopez", "Müller", "Nakamura", "O'Brien", "Petrov", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Umarov", "Virtanen", "Wójcik", "Yilmaz", "Zhang",
];

pub const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.org",
    "corp.example.net",
    "shop.example.de",
    "example.co.uk",
];

pub const CITIES: &[&str] = &[
    "Berlin",
    "Lisbon",
    "Osaka",
    "Toronto",
    "Nairobi",
    "São Paulo",
    "Oslo",
    "Melbourne",
    "Lyon",
    "Austin",
];

pub const PRODUCTS: &[&str] = &[
    "Espresso beans 1kg",
    "USB-C cable 2m",
    "Desk lamp",
    "Wool socks (3 pairs)",
    "Notebook A5",
    "Mechanical keyboard",
    "Water bottle 750ml",
    "Phone case",
    "Running shoes",
    "Tea sampler",
];

pub const STATUSES: &[&str] = &[
    "paid",
    "pending",
    "shipped",
    "refunded",
    "cancelled",
    "delivered",
];

pub const SERVICES: &[&str] = &[
    "api-gateway",
    "orders",
    "billing",
    "inventory",
    "auth",
    "search",
    "notifications",
    "worker",
];

pub const LEVELS: &[&str] = &[
    "INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR",
];

pub const MESSAGES: &[&str] = &[
    "request completed",
    "cache miss, loading from database",
    "order state changed",
    "retrying upstream call",
    "connection pool exhausted, waiting",
    "scheduled job finished",
    "slow query detected",
    "payment authorised",
    "rate limit applied",
    "user session refreshed",
];

pub const PATHS: &[&str] = &[
    "/api/v1/orders/{id}",
    "/api/v1/orders/{id}/items",
    "/api/v1/customers/{id}/invoices",
    "/api/v2/search?q=lamp&page={id}",
    "/static/js/app.{hex}.js",
    "/static/css/main.{hex}.css",
    "/healthz",
    "/metrics",
    "/api/v1/products/{id}?fields=name,price,stock",
    "/graphql",
];

pub const METHODS: &[&str] = &["GET", "GET", "GET", "GET", "POST", "PUT", "DELETE", "PATCH"];

pub const CODES: &[u16] = &[
    200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 404, 500, 503,
];

pub const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "Go-http-client/2.0",
];
