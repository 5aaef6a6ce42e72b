export namespace CommandIDs {
  export const newCluster = 'compute-widgets:new-cluster';
  export const insertChart = 'compute-widgets:insert-chart';
  export const insertPlanner = 'compute-widgets:insert-planner';
  export const insertPage = 'compute-widgets:insert-page';
  export const open = 'compute-widgets:open-panel';
}
