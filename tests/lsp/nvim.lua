-- Headless Neovim with editors/vim on its runtime path: opens $FLOWC_FILE, waits
-- for the diagnostics of the flowc language server that editors/vim starts,
-- and writes them to $FLOWC_OUT as `LINE:COL CODE MESSAGE` (tests/lsp.rs).
vim.opt.runtimepath:prepend(os.getenv('FLOWC_ROOT') .. '/editors/vim')
vim.g.flowc_path = os.getenv('FLOWC')
vim.cmd('filetype plugin on')
vim.api.nvim_create_autocmd('VimEnter', {
  nested = true, -- so that `edit` runs the file type's autocommands
  callback = function()
    vim.cmd('edit ' .. vim.fn.fnameescape(os.getenv('FLOWC_FILE')))
    local out = {}
    local got = vim.wait(20000, function()
      return #vim.diagnostic.get(0) > 0
    end, 20)
    if not got then
      table.insert(out, 'no diagnostics within 20 s; clients: ' .. #vim.lsp.get_active_clients())
    end
    for _, d in ipairs(vim.diagnostic.get(0)) do
      local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code) or '?'
      table.insert(out, string.format('%d:%d %s %s', d.lnum + 1, d.col + 1, code, d.message))
    end
    vim.fn.writefile(out, os.getenv('FLOWC_OUT'))
    vim.cmd('qa!')
  end,
})
