/** The dashboard's browser script (app.js, checked by tsconfig.dashboard.json with the DOM's types). */
export declare function dashboardApp(): unknown;
