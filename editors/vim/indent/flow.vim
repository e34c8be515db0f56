" Vim indent file
" Language: flow (flowc)
"
" One level per open bracket: a line that leaves `{`, `[` or `(` open indents the
" next one, a line that starts with a closing bracket goes back. The `= binding`,
" `with { … }` and `-> T` lines that continue a tool or flow declaration are
" indented one level under it. An operator chain broken before its operators
" (`&& b`, `?? c`, `++ d`: what `flowc fmt` writes) has its operator lines one
" level under the line that starts it.

if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal autoindent nosmartindent nocindent
setlocal indentexpr=GetFlowIndent()
setlocal indentkeys=0{,0},0),0],!^F,o,O,e,=with,=->
let b:undo_indent = 'setlocal autoindent< smartindent< cindent< indentexpr< indentkeys<'

if exists('*GetFlowIndent')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

" The code of a line: strings emptied, comments removed.
function! s:Code(lnum) abort
  let line = getline(a:lnum)
  let line = substitute(line, '"\%(\\.\|[^"\\]\)*"', '""', 'g')
  let line = substitute(line, '/\*.\{-}\*/', '', 'g')
  return substitute(line, '//.*$', '', '')
endfunction

" Open brackets minus closed ones, not counting the closing brackets the line
" starts with (they moved the line itself back).
function! s:Balance(code) abort
  let code = substitute(a:code, '^\s*[})\]]*', '', '')
  return len(substitute(code, '[^{(\[]', '', 'g')) - len(substitute(code, '[^})\]]', '', 'g'))
endfunction

function! s:IsContinuation(code) abort
  return a:code =~# '^\s*\%(=[=>]\@!\|with\>\|->\)'
endfunction

" A line that starts with an infix operator continues the expression above.
function! s:IsOperatorLine(code) abort
  return a:code =~# '^\s*\%(&&\|||\|??\|++\|==\|!=\|<=\|>=\|!\~\|[<>\~]\|[+*/%]\s\)'
endfunction

" A line that starts an `if`, `else if`, `for` or `match`, whose block follows
" the expression it starts.
function! s:IsHeader(code) abort
  return a:code =~# '^\s*\%(}\s*else\s\+\)\=\%(if\|for\|match\)\>'
endfunction

" The line that starts the chain whose operator line is `lnum`.
function! s:ChainStart(lnum) abort
  let start = a:lnum
  while start > 1 && s:IsOperatorLine(s:Code(start))
    let start = prevnonblank(start - 1)
  endwhile
  return start
endfunction

function! s:InComment(lnum) abort
  let col = match(getline(a:lnum), '\S') + 1
  return col > 0 && synIDattr(synID(a:lnum, col, 1), 'name') ==# 'flowBlockComment'
        \ && getline(a:lnum) !~# '^\s*/\*'
endfunction

function! GetFlowIndent() abort
  if s:InComment(v:lnum)
    return -1
  endif
  let lnum = prevnonblank(v:lnum - 1)
  while lnum > 0 && s:InComment(lnum)
    let lnum = prevnonblank(lnum - 1)
  endwhile
  if lnum == 0
    return 0
  endif

  let sw = shiftwidth()
  let prev = s:Code(lnum)
  let cur = s:Code(v:lnum)
  let ind = indent(lnum)
  let balance = s:Balance(prev)

  if s:IsContinuation(cur)
    " A continuation of a declaration: one level under it, level with the one before.
    return s:IsContinuation(prev) ? ind : ind + sw
  endif
  if s:IsOperatorLine(cur)
    " An operator line: one level under the chain's first line (two under an
    " `if`, `for` or `match`, apart from its body), level with the one before.
    if s:IsOperatorLine(prev)
      return ind
    endif
    return ind + (s:IsHeader(prev) ? 2 : 1) * sw
  endif
  if s:IsOperatorLine(prev)
    " After a broken chain: from the line that starts it; the block of an `if`,
    " `for` or `match` whose condition broke opens at that line's level, a
    " bracket opened by an operand one level under the operator line.
    let start = s:ChainStart(lnum)
    if balance <= 0 || prev =~# '{\s*$' && s:IsHeader(s:Code(start))
      let ind = indent(start)
    endif
  endif
  if balance > 0
    let ind += sw
  elseif balance < 0
    let ind -= sw
  elseif s:IsContinuation(prev)
    " The line after a declaration's continuation starts the next item (or the body).
    let ind -= sw
  endif
  if cur =~# '^\s*[})\]]'
    let ind -= sw
  endif
  return max([ind, 0])
endfunction

let &cpo = s:cpo_save
unlet s:cpo_save
