/** The dashboard's event history section (history.js, checked by tsconfig.dashboard.json with the DOM's types). */
export declare function dashboardHistory(app: unknown): void;
