import * as echarts from '/dashboard/vendor/echarts.esm.min.mjs';
import { getLocale } from './i18n.js';

export const PALETTE = ['#3b5bdb', '#12b886', '#f59f00', '#e8590c', '#ae3ec9', '#1098ad', '#868e96', '#c92a2a', '#5c940d', '#d6336c'];

/** Tooltip formatters return HTML: every value in them (tier names come from the policy) goes through this. */
export const encodeHTML = (value) => echarts.format.encodeHTML(String(value ?? ''));

const live = new Set();

/** An ECharts instance on `el` (SVG renderer: sharp labels, and the figures are text in the DOM). */
export function chart(el, option) {
  const instance = echarts.init(el, null, { renderer: 'svg', locale: getLocale() === 'zh-CN' ? 'ZH' : 'EN' });
  instance.setOption({ color: PALETTE, textStyle: { fontFamily: 'inherit' }, animationDuration: 300, ...option });
  live.add(instance);
  return instance;
}

/** Views call this before rendering, so charts of the previous view do not linger. */
export function disposeCharts() {
  for (const instance of live) instance.dispose();
  live.clear();
}

addEventListener('resize', () => {
  for (const instance of live) instance.resize();
});
