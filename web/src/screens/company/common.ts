import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client';

/** The company's routers (every one: a company has a handful; the list pages server-side elsewhere). */
export function useMyRouters() {
  return useQuery({ queryKey: ['mis-routers'], queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa/routers', { params: { query: {} } })).routers });
}
