" Takes the indentation out of every file in the argument list, indents it again
" with `gg=G` (indent/flow.vim) and writes each line that differs from the file,
" plus the buffer options of the ftplugin, to g:flow_out.
"
"   vim -Nu NONE -Es -c 'let g:flow_out = "OUT"' -c 'source editors/vim/tests/indent.vim' FILE…
set nocompatible
let s:root = fnamemodify(expand('<sfile>:p'), ':h:h')
let &runtimepath = s:root . ',' . &runtimepath
filetype plugin indent on
syntax on

let s:out = []
for s:file in argv()
  execute 'edit!' fnameescape(s:file)
  if &filetype !=# 'flow' || &indentexpr !=# 'GetFlowIndent()'
    call add(s:out, s:file . ': filetype "' . &filetype . '", indentexpr "' . &indentexpr . '"')
    continue
  endif
  let s:before = getline(1, '$')
  silent %s/^\s\+//e
  silent normal! gg=G
  let s:after = getline(1, '$')
  for s:i in range(len(s:before))
    if s:before[s:i] !=# s:after[s:i]
      call add(s:out, printf('%s:%d: expected |%s| got |%s|', s:file, s:i + 1, s:before[s:i], s:after[s:i]))
    endif
  endfor
endfor
call add(s:out, printf('options: shiftwidth=%d expandtab=%d commentstring=%s comments=%s',
      \ &shiftwidth, &expandtab, &commentstring, &comments))
call writefile(s:out, g:flow_out)
qall!
