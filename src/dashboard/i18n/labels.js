// Names for the values the API returns as codes (lifecycle stages, RFM segments, reasons, preset
// tiers). A code without a name here (a custom tier key, a new reason) is shown as it is.
export default {
  en: {
    stage: {
      prospect: 'Prospect', new: 'New', active: 'Active', loyal: 'Loyal', reactivated: 'Reactivated', at_risk: 'At risk', lapsed: 'Lapsed',
    },
    segment: {
      champions: 'Champions', loyal: 'Loyal', potential_loyalists: 'Potential loyalists', new: 'New', promising: 'Promising',
      need_attention: 'Need attention', about_to_sleep: 'About to sleep', at_risk: 'At risk', cant_lose: "Can't lose", hibernating: 'Hibernating',
    },
    reason: {
      overdue_vs_cadence: 'Overdue for their usual cadence', one_time_buyer_overdue: 'One-time buyer, no second order',
      complaints: 'Repeated complaints', low_satisfaction: 'Low satisfaction', low_p_alive: 'Low P(alive)',
    },
    tier: { high: 'High', medium: 'Medium', low: 'Low' },
    channel: { online: 'Online', store: 'Store', app: 'App', marketplace: 'Marketplace', phone: 'Phone', other: 'Other' },
    sensitivity: { high: 'High', medium: 'Medium', low: 'Low' },
  },
  'zh-CN': {
    stage: {
      prospect: '潜在客户', new: '新客', active: '活跃', loyal: '忠诚', reactivated: '已召回', at_risk: '流失预警', lapsed: '已流失',
    },
    segment: {
      champions: '重要价值客户', loyal: '忠诚客户', potential_loyalists: '潜力客户', new: '新客户', promising: '有望客户',
      need_attention: '需要关注', about_to_sleep: '即将沉睡', at_risk: '流失风险', cant_lose: '不可流失', hibernating: '沉睡客户',
    },
    reason: {
      overdue_vs_cadence: '超过常规复购周期', one_time_buyer_overdue: '仅购一次且久未复购',
      complaints: '多次投诉', low_satisfaction: '满意度低', low_p_alive: '存活概率低',
    },
    tier: { high: '高价值', medium: '中价值', low: '低价值' },
    channel: { online: '线上', store: '门店', app: 'App', marketplace: '电商平台', phone: '电话', other: '其他' },
    sensitivity: { high: '高', medium: '中', low: '低' },
  },
};
